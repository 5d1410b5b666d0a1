/// The "newc" cpio format the kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
/// buffer-format.rst): a 110-byte ASCII header per entry, name and data each padded to 4 bytes, then
/// "TRAILER!!!". Archives can be concatenated: the kernel unpacks them in order.
struct CpioArchive {
    enum Entry {
        case directory(String)
        case file(String, bytes: [UInt8], executable: Bool)
        case symlink(String, target: String)
    }

    private(set) var bytes: [UInt8] = []
    private var inode: UInt32 = 1

    mutating func add(_ entry: Entry) {
        switch entry {
        case .directory(let name): append(name: name, mode: 0o040755, data: [])
        case .file(let name, let data, let executable): append(name: name, mode: executable ? 0o100755 : 0o100644, data: data)
        case .symlink(let name, let target): append(name: name, mode: 0o120777, data: Array(target.utf8))
        }
    }

    /// The archive with its trailer.
    mutating func finished() -> [UInt8] {
        append(name: "TRAILER!!!", mode: 0, data: [], inode: 0)
        return bytes
    }

    private mutating func append(name: String, mode: UInt32, data: [UInt8], inode given: UInt32? = nil) {
        let number = given ?? inode
        if given == nil { inode += 1 }
        let nameBytes = Array(name.utf8) + [0]
        let fields: [UInt32] = [number, mode, 0, 0, mode & 0o040000 != 0 ? 2 : 1, 0, UInt32(data.count), 0, 0, 0, 0,
                                UInt32(nameBytes.count), 0]
        bytes += Array("070701".utf8)
        for field in fields {
            let hex = String(field, radix: 16, uppercase: true)
            bytes += Array((String(repeating: "0", count: 8 - hex.count) + hex).utf8)
        }
        bytes += nameBytes
        pad()
        bytes += data
        pad()
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}
