import Synchronization
import Testing
@testable import Telemetry

@Suite("SPSC ring")
struct RingTests {
    @Test("capacity rounds up to a power of two", arguments: [(1, 1), (3, 4), (4, 4), (1000, 1024)])
    func capacity(requested: Int, actual: Int) {
        #expect(SPSCRing<Int>(minimumCapacity: requested).capacity == actual)
    }

    @Test("FIFO order; a full ring refuses and counts instead of waiting")
    func fullRingDrops() {
        let ring = SPSCRing<Int>(minimumCapacity: 4)
        for i in 0..<4 { #expect(ring.push(i)) }
        #expect(!ring.push(99))
        #expect(!ring.push(100))
        #expect(ring.dropped.load(ordering: .relaxed) == 2)
        #expect(ring.pop() == 0)
        #expect(ring.push(4))
        var out: [Int] = []
        while let value = ring.pop() { out.append(value) }
        #expect(out == [1, 2, 3, 4])
        #expect(ring.pop() == nil)
    }

    @Test("elements left in the ring are released with it")
    func releasesElements() {
        final class Token: Sendable {}
        weak var weakToken: Token?
        do {
            let ring = SPSCRing<Token>(minimumCapacity: 2)
            let token = Token()
            weakToken = token
            #expect(ring.push(token))
        }
        #expect(weakToken == nil)
    }

    @Test("one producer thread, one consumer thread: every element arrives once, in order, or is counted as dropped")
    func twoThreads() async {
        let ring = SPSCRing<Int>(minimumCapacity: 64)
        let total = 200_000
        let accepted = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)
        let producer = Task.detached {
            var count = 0
            for i in 0..<total where ring.push(i) { count += 1 }
            accepted.store(count, ordering: .relaxed)
            finished.store(true, ordering: .releasing)
        }
        var received: [Int] = []
        received.reserveCapacity(total)
        var done = false
        while !done {
            if let value = ring.pop() {
                received.append(value)
            } else if finished.load(ordering: .acquiring) && ring.count == 0 {
                done = true
            } else {
                await Task.yield()
            }
        }
        await producer.value
        while let value = ring.pop() { received.append(value) }
        #expect(received.count == accepted.load(ordering: .acquiring))
        #expect(received.count + Int(ring.dropped.load(ordering: .relaxed)) == total)
        #expect(zip(received, received.dropFirst()).allSatisfy { $0 < $1 }, "out of order")
    }
}
