import Foundation
import SkeinModel
import Testing

@Suite struct SHA256Tests {
    func hex(_ s: String) -> String { SHA256.hex(SHA256.hash(Array(s.utf8))) }

    @Test func emptyString() {
        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func abc() {
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func twoBlockMessage() {
        #expect(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func oneMillionA() {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        #expect(SHA256.hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000))) == expected)
        // Streamed in awkward pieces through every overload: same digest.
        var hasher = SHA256()
        var fed = 0
        var step = 1
        while fed < 1_000_000 {
            let n = min(step, 1_000_000 - fed)
            switch step % 3 {
            case 0: hasher.update([UInt8](repeating: 0x61, count: n))
            case 1: [UInt8](repeating: 0x61, count: n).withUnsafeBytes { hasher.update($0) }
            default: hasher.update(repeatElement(UInt8(0x61), count: n))  // non-contiguous path
            }
            fed += n
            step = step * 7 % 1009 + 1
        }
        #expect(SHA256.hex(hasher.finalize()) == expected)
    }

    @Test func finalizeResets() {
        var hasher = SHA256()
        hasher.update(Array("abc".utf8))
        _ = hasher.finalize()
        #expect(SHA256.hex(hasher.finalize()) == hex(""))
    }

    @Test func hexIsLowercase() {
        #expect(SHA256.hex([0x00, 0x0f, 0xab, 0xff]) == "000fabff")
        #expect(SHA256.hex([]) == "")
    }

    /// Every length 0...300 (crossing the 55/56/64-byte padding edges) against coreutils.
    @Test func matchesSha256sum() throws {
        var rng = SystemRandomNumberGenerator()
        var messages: [[UInt8]] = []
        for size in 0...300 {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            messages.append(bytes)
        }
        // One sha256sum run for all messages: write them to files in a temp dir.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var paths: [String] = []
        for (i, m) in messages.enumerated() {
            let url = dir.appendingPathComponent("m\(i)")
            try Data(m).write(to: url)
            paths.append(url.path)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = paths
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let expected = String(decoding: output, as: UTF8.self).split(separator: "\n").map { String($0.prefix(64)) }
        try #require(expected.count == messages.count)
        for (i, m) in messages.enumerated() {
            #expect(SHA256.hex(SHA256.hash(m)) == expected[i], "size \(i)")
        }
    }
}
