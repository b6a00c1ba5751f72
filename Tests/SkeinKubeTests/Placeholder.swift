import Testing
@testable import SkeinKube
