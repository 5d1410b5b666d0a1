#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Watches SIGINT and SIGTERM while a guest runs: the recorder keeps running to flush the trace, the
/// guest is stopped. A terminal's Ctrl-C already reaches the guest (same process group), so only
/// signals sent to the recorder alone are forwarded; a second one kills the guest.
final class SignalWatcher: Sendable {
    private struct State {
        var child: pid_t = 0
        var received: Int32 = 0
        var count = 0
        var last: Int32 = 0
        var stop = false
        /// The watching thread, once it waits (`stop` wakes it with a signal of our own).
        var thread: pthread_t?
    }

    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)
    private let watched: [Int32] = [SIGINT, SIGTERM]
    private static let wakeUp = SIGUSR2
    private let previousMask: sigset_t

    /// Blocks the watched signals in the calling thread (threads it starts inherit that) and starts watching.
    init() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in watched { sigaddset(&set, signal) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &set, &previous)
        previousMask = previous
        let watchedSet = set
        let thread = Thread { [self] in self.watch(watchedSet) }
        thread.start()
    }

    /// The signal that interrupted the recording, if any.
    var interruption: Int32? {
        let received = state.withLock { $0.received }
        return received == 0 ? nil : received
    }

    /// Watched signals received so far.
    var count: Int { state.withLock { $0.count } }

    /// The last watched signal received (0 if none).
    var lastSignal: Int32 { state.withLock { $0.last } }

    func setChild(_ pid: pid_t) {
        state.withLock { $0.child = pid }
    }

    /// Stops watching and restores the calling thread's signal mask. A signal that arrived meanwhile
    /// stays pending in the watcher's set and is delivered by the restored mask (after the trace is safe).
    func stop() {
        let thread = state.withLock { s -> pthread_t? in
            s.stop = true
            return s.thread
        }
        // The watcher leaves only on this wake-up (or, not yet waiting, on seeing `stop`), so it is alive here.
        if let thread { pthread_kill(thread, Self.wakeUp) }
        finished.wait()
        var previous = previousMask
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }

    private func watch(_ set: sigset_t) {
        defer { finished.signal() }
        // Foundation starts the thread with an empty mask: block what sigwaitinfo takes, plus the wake-up
        // signal, which therefore reaches only this thread (`stop` sends it here; a process-wide SIGUSR2
        // still goes to the other threads, as without a watcher).
        var set = set
        sigaddset(&set, Self.wakeUp)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let waiting = state.withLock { s -> Bool in
            if s.stop { return false }
            s.thread = pthread_self()
            return true
        }
        guard waiting else { return }
        while true {
            var info = siginfo_t()
            let signal = sigwaitinfo(&set, &info)
            guard signal > 0 else { continue }
            if signal == Self.wakeUp {
                if state.withLock({ $0.stop }) { return }
                continue
            }
            let fromTerminal = info.si_code == 0x80 /* SI_KERNEL */
            let (child, count) = state.withLock { s -> (pid_t, Int) in
                s.count += 1
                s.last = signal
                if s.received == 0 { s.received = signal }
                return (s.child, s.count)
            }
            guard child > 0 else { continue }
            if count > 1 {
                _ = Glibc.kill(child, SIGKILL)
            } else if !fromTerminal {
                _ = Glibc.kill(child, signal)
            }
        }
    }
}
