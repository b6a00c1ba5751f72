import SkeinModel
