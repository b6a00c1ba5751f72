import SkeinModel

// `audit export`: every lifecycle record that passes the filter, written as it is derived (nothing
// is collected), each stamped with the seq of the record written before it.

public struct AuditFilter: Sendable {
    public var since: Int64?
    public var until: Int64?
    public var namespace: String?
    public var pod: String?
    public var network: String?
    public var ip: IPAddress?

    public init(since: Int64? = nil, until: Int64? = nil, namespace: String? = nil, pod: String? = nil,
                network: String? = nil, ip: IPAddress? = nil) {
        self.since = since
        self.until = until
        self.namespace = namespace
        self.pod = pod
        self.network = network
        self.ip = ip
    }

    public var byAttachment: Bool { namespace != nil || pod != nil || network != nil || ip != nil }

    /// "namespace default, network blue", for titles; nil when nothing narrows the selection.
    public var byAttachmentDescription: String? {
        let parts = [namespace.map { "namespace \($0)" }, pod.map { "pod \($0)" }, network.map { "network \($0)" },
                     ip.map { "ip \($0)" }].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// A GC record matches when one of its stale keys, as the history knew it just before, does.
    public func matches(_ r: AuditRecord, tracker: HistoryTracker) -> Bool {
        if let since, r.timeNs < since { return false }
        if let until, r.timeNs > until { return false }
        guard byAttachment else { return true }
        if r.type == "gc" {
            return r.keys.contains { k in
                guard let key = AttachmentKey(encoded: k), let c = tracker.context(key) else { return false }
                var probe = r
                probe.network = c.network
                probe.namespace = c.pod?.namespace
                probe.pod = c.pod?.name
                probe.ips = c.ips
                return attachmentMatches(probe)
            }
        }
        return attachmentMatches(r)
    }

    func attachmentMatches(_ r: AuditRecord) -> Bool {
        if let namespace, r.namespace != namespace { return false }
        if let pod, r.pod != pod { return false }
        if let network, r.network != network { return false }
        if let ip, !r.hasIP(ip) { return false }
        return true
    }
}

public struct ExportStats: Sendable {
    public var written = 0
    /// Largest number of live attachments the history tracked at once (the bound on its memory).
    public var peakLive = 0
}

extension History {
    @discardableResult
    public static func export(_ journal: Journal, filter: AuditFilter, format: AuditFormat, node: String,
                              progress: ((UInt64) -> Void)? = nil,
                              write: ([UInt8]) throws -> Void) throws -> ExportStats {
        var tracker = HistoryTracker(node: node)
        var stats = ExportStats()
        var lastSeq: UInt64 = 0
        if format == .csv { try write(AuditFormat.csvHeader) }
        // The filter needs the GC's stale keys as they were before the GC; a gcRequested changes
        // no context, so checking after derive (which the stream does first) is the same.
        try stream(journal, tracker: &tracker, progress: progress) { r, tracker in
            stats.peakLive = max(stats.peakLive, tracker.live.count)
            // Times ascend with seq: nothing after `until` can match.
            if let until = filter.until, r.timeNs > until { return false }
            guard filter.matches(r, tracker: tracker) else { return true }
            var out = r
            out.exportPrev = lastSeq
            lastSeq = r.seq
            try write(format.encode(out))
            stats.written += 1
            return true
        }
        return stats
    }
}
