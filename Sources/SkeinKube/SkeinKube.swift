import CSSL
import SkeinModel
