/// Why a calibration could not run at all (individual measurements that fail are reported as Unmeasured).
public enum CalibrationError: Error, CustomStringConvertible, Equatable {
    case unsupportedArchitecture(String)
    case invalidRepetitions(Int)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let machine):
            "not measurable on this architecture (\(machine)): the calibration kernels are x86-64 only"
        case .invalidRepetitions(let count):
            "--repetitions must be at least 5, got \(count)"
        case .cannotWrite(let path, let reason):
            "cannot write \(path): \(reason)"
        }
    }
}
