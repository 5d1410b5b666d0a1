import Foundation
import GRDB

/// The writer's view of stored code pages: which (address, version) pairs exist, which content blobs
/// exist (by hash), and what is pending until the next commit.
struct CodePageSet {
    enum Outcome { case added, duplicate, conflict }

    private struct PageKey: Hashable {
        var address: UInt64
        var version: UInt32
    }

    private struct PendingBlob {
        var id: Int64
        var hash: UInt64
        var size: Int
        var data: [UInt8]
    }

    private var blobByPage: [PageKey: Int64] = [:]
    private var addresses: Set<UInt64> = []
    private var blobsByHash: [UInt64: [Int64]] = [:]
    private var pendingBlobs: [Int64: PendingBlob] = [:]
    private var pendingPages: [(PageKey, Int64)] = []
    private var nextBlobID: Int64 = 1

    var distinctAddresses: Int { addresses.count }
    var versions: Int { blobByPage.count }
    var hasPending: Bool { !pendingPages.isEmpty }

    /// Adds a page version whose bytes compress to `compressed`. Equal compressed bytes mean equal pages
    /// (decompression is a function), so a hash hit is confirmed by comparing them; `storedBlob` fetches
    /// an already committed blob.
    mutating func add(address: UInt64, version: UInt32, hash: UInt64, compressed: [UInt8],
                      storedBlob: (Int64) throws -> [UInt8]) throws -> Outcome {
        var blobID: Int64?
        for candidate in blobsByHash[hash] ?? [] {
            let candidateBytes = try pendingBlobs[candidate]?.data ?? storedBlob(candidate)
            if candidateBytes == compressed {
                blobID = candidate
                break
            }
        }
        let key = PageKey(address: address, version: version)
        if let existing = blobByPage[key] {
            return existing == blobID ? .duplicate : .conflict
        }
        let id: Int64
        if let blobID {
            id = blobID
        } else {
            id = nextBlobID
            nextBlobID += 1
            pendingBlobs[id] = PendingBlob(id: id, hash: hash, size: 4096, data: compressed)
            blobsByHash[hash, default: []].append(id)
        }
        blobByPage[key] = id
        addresses.insert(address)
        pendingPages.append((key, id))
        return .added
    }

    /// Hands over the blobs and page versions added since the last call, for one commit.
    mutating func takePending() -> PendingCodePages {
        let pending = PendingCodePages(blobs: pendingBlobs.values.sorted { $0.id < $1.id }.map { ($0.id, $0.hash, $0.size, $0.data) },
                                       pages: pendingPages.map { ($0.0.address, $0.0.version, $0.1) },
                                       distinctAddresses: addresses.count, versions: blobByPage.count)
        pendingBlobs.removeAll()
        pendingPages.removeAll()
        return pending
    }
}

/// Code page rows to insert in one commit, and the page counts for its summary row.
struct PendingCodePages: Sendable {
    var blobs: [(id: Int64, hash: UInt64, size: Int, data: [UInt8])] = []
    var pages: [(address: UInt64, version: UInt32, blob: Int64)] = []
    var distinctAddresses = 0
    var versions = 0

    func write(_ db: Database) throws {
        if !blobs.isEmpty {
            let statement = try db.cachedStatement(sql:
                "INSERT INTO code_blobs (id, hash, size, data) VALUES (?, ?, ?, ?)")
            for blob in blobs {
                try statement.execute(arguments: [blob.id, Int64(bitPattern: blob.hash), blob.size, Data(blob.data)])
            }
        }
        if !pages.isEmpty {
            let statement = try db.cachedStatement(sql:
                "INSERT INTO code_pages (address, version, blob_id) VALUES (?, ?, ?)")
            for page in pages {
                try statement.execute(arguments: [Int64(bitPattern: page.address), Int64(page.version), page.blob])
            }
        }
    }
}
