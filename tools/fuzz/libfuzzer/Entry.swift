// libFuzzer's entry points for one skein-fuzz binary over every FuzzTarget. Not part of any SwiftPM
// target: tools/fuzz/run.sh compiles it with -sanitize=fuzzer,address and links it against the
// instrumented SkeinModel, SkeinMeta and SkeinFuzz objects (SwiftPM's own link of an executable
// target defines `main`, which libFuzzer must provide). SKEIN_FUZZ_TARGET picks the parser.

import Glibc
import SkeinFuzz

nonisolated(unsafe) var target = FuzzTarget.json

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    let name = getenv("SKEIN_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let chosen = FuzzTarget(rawValue: name) else {
        fputs("SKEIN_FUZZ_TARGET must be one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(name)\")\n", stderr)
        exit(2)
    }
    target = chosen
    return 0
}

/// A violated property is a finding like a crash: trap, so libFuzzer saves the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let outcome = target.run(input)
    if !outcome.violations.isEmpty {
        fputs("skein-fuzz \(target.rawValue): \(outcome.violations.joined(separator: "\n  "))\n", stderr)
        abort()
    }
    return 0
}
