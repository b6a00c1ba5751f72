import Testing
@testable import SkeinMeta
