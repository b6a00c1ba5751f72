// Local sources of network configs, given as (file name, text) pairs the caller read: `nadDir`
// (NAD objects, for use without a cluster) and `confDir` (plain CNI confs and conflists).
// One broken file must not take the others down: its problem is recorded and the rest are indexed.

import SkeinModel

/// A file that could not be used (or one document of it), with the reason.
public struct FileProblem: Equatable, Sendable {
    public var file: String
    public var error: CNIError
    public init(file: String, error: CNIError) { self.file = file; self.error = error }
}

/// The NADs defined by the files of `nadDir`, by namespace and name.
public struct NADDirectory: Sendable {
    public private(set) var problems: [FileProblem] = []
    var index: [String: (nad: NetworkAttachmentDefinition, file: String)] = [:]
    /// Keys defined by more than one document, with every file that defines them.
    var ambiguous: [String: [String]] = [:]

    /// `files` in any order; names not ending in .yaml, .yml or .json (and hidden files) are skipped.
    /// A NAD without metadata.namespace lands in `defaultNamespace`.
    public init(files: [(name: String, text: String)], fallbackVersion: String, defaultNamespace: String = "default") {
        for file in files.sorted(by: { $0.name < $1.name }) where NADDirectory.isCandidate(file.name) {
            let objects: [JSON]
            do { objects = try NetworkAttachmentDefinition.objects(in: file.text) } catch {
                problems.append(FileProblem(file: file.name, error: error))
                continue
            }
            for (k, object) in objects.enumerated() {
                let label = objects.count == 1 ? file.name : "\(file.name) (document \(k + 1))"
                do {
                    let nad = try NetworkAttachmentDefinition.parse(object: object, defaultNamespace: defaultNamespace,
                                                                    fallbackVersion: fallbackVersion)
                    add(nad, file: label)
                } catch {
                    problems.append(FileProblem(file: label, error: error))
                }
            }
        }
    }

    public static func isCandidate(_ fileName: String) -> Bool {
        guard !fileName.hasPrefix(".") else { return false }
        return fileName.hasSuffix(".yaml") || fileName.hasSuffix(".yml") || fileName.hasSuffix(".json")
    }

    mutating func add(_ nad: NetworkAttachmentDefinition, file: String) {
        let key = nad.networkName
        if var files = ambiguous[key] {
            files.append(file)
            ambiguous[key] = files
        } else if let first = index.removeValue(forKey: key) {
            ambiguous[key] = [first.file, file]
        } else {
            index[key] = (nad, file)
            return
        }
        problems.append(FileProblem(file: file, error: .invalidConfig(
            "NetworkAttachmentDefinition \(key) is defined more than once", details: ambiguous[key]!.joined(separator: ", "))))
    }

    /// Every usable NAD, ordered by namespace and name.
    public var definitions: [NetworkAttachmentDefinition] {
        index.values.map(\.nad).sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    /// Nil when no file defines it; an error when several do (which one is meant cannot be known).
    public func definition(namespace: String, name: String) throws(CNIError) -> NetworkAttachmentDefinition? {
        let key = "\(namespace)/\(name)"
        if let files = ambiguous[key] {
            throw .invalidConfig("NetworkAttachmentDefinition \(key) is defined more than once in nadDir",
                                 details: files.joined(separator: ", "))
        }
        return index[key]?.nad
    }
}

/// libcni's look-up of a network by name in a directory of confs (netutils GetCNIConfigFromFile).
public enum ConfDirectory {
    /// The config whose `name` is `name` (or the first config when `name` is nil: a directory given
    /// as clusterNetwork). Files are taken in name order, .conf, .conflist and .json only; as libcni,
    /// an unreadable config before the match is an error, not skipped.
    public static func find(_ name: String?, files: [(name: String, text: String)],
                            fallbackVersion: String) throws(CNIError) -> DelegateConfig? {
        for file in files.sorted(by: { $0.name < $1.name }) where isCandidate(file.name) {
            let json: JSON
            do { json = try JSON.parse(file.text) } catch {
                throw .invalidConfig("\(file.name) is not valid JSON", details: error.description)
            }
            let configName = json["name"]?.string
            guard name == nil || configName == name else { continue }
            if !file.name.hasSuffix(".conflist") && json["type"] == nil {
                throw .invalidConfig("\(file.name) has no 'type'; perhaps it is a conflist and should be named .conflist")
            }
            return try DelegateConfig.parse(json, fallbackName: configName ?? "", fallbackVersion: fallbackVersion,
                                            context: "\(file.name) ")
        }
        return nil
    }

    public static func isCandidate(_ fileName: String) -> Bool {
        fileName.hasSuffix(".conf") || fileName.hasSuffix(".conflist") || fileName.hasSuffix(".json")
    }
}
