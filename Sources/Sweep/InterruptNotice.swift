#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Ctrl-C (SIGINT) or SIGTERM during a sweep: every finished point is already stored whole (each written
/// atomically), so the process says how many points it keeps and exits 130 at once; a rerun resumes.
public enum InterruptNotice {
    /// Blocks SIGINT and SIGTERM in this thread and the threads it starts later, and waits for them on a
    /// thread of its own, which writes `message()` to stderr and exits. An inherited "ignore" (a background
    /// job of a script) is reset first: a sweep always stops on Ctrl-C.
    public static func install(_ message: @escaping @Sendable () -> String) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGINT, SIGTERM] {
            Glibc.signal(signal, SIG_DFL)
            sigaddset(&set, signal)
        }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let watched = set
        let thread = Thread {
            var received: Int32 = 0
            withUnsafePointer(to: watched) { _ = sigwait($0, &received) }
            let text = message() + "\n"
            _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
            exit(received == SIGINT ? 130 : 143)
        }
        thread.start()
    }
}
