import Foundation
import Testing
@testable import SkeinKube

@Suite struct Base64Tests {
    @Test func rfc4648Vectors() {
        let vectors = ["": "", "Zg==": "f", "Zm8=": "fo", "Zm9v": "foo", "Zm9vYg==": "foob",
                       "Zm9vYmE=": "fooba", "Zm9vYmFy": "foobar"]
        for (encoded, plain) in vectors {
            #expect(Base64.decode(encoded) == Array(plain.utf8), "\(encoded)")
        }
    }

    @Test func unpaddedAndWrappedInputDecodes() {
        #expect(Base64.decode("Zm9vYg") == Array("foob".utf8))
        #expect(Base64.decode("Zm9vYmE") == Array("fooba".utf8))
        #expect(Base64.decode(" Zm9v\nYmFy\r\n") == Array("foobar".utf8))
    }

    @Test func malformedInputIsRejected() {
        for bad in ["Zm9v!", "Z", "Zg=", "Zg===", "====", "Zh==", "Zm9=", "Zg==Zg==", "Zm-v", "Zm_v", "Zm9vY"] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }

    /// Against Foundation's encoder, for every length class and all byte values.
    @Test func roundTripsFoundationEncoding() {
        var rng = SystemRandomNumberGenerator()
        for length in 0..<300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let text = Data(bytes).base64EncodedString(options: length % 2 == 0 ? [] : .lineLength64Characters)
            #expect(Base64.decode(text) == bytes)
        }
    }
}
