import Synchronization

/// A bounded lock-free ring for exactly one producer thread and one consumer thread.
///
/// Slots are allocated once, at creation; ``push(_:)`` and ``pop()`` never allocate, lock or
/// wait. A full ring refuses the element and counts it in ``dropped``: a producer is never
/// blocked. The producer and consumer each cache the other side's index, so the shared
/// indices are read only when the cached one says full or empty.
///
/// `@unchecked Sendable`: the two indices are atomics with acquire/release ordering; each
/// cached index is touched by one side only. The single-producer rule is enforced by the
/// `~Copyable` ``TelemetryProducer`` that owns the producing side; the publisher thread is
/// the only consumer.
package final class SPSCRing<Element>: @unchecked Sendable {
    /// The number of elements the ring holds (a power of two).
    package let capacity: Int
    private let mask: Int
    private let slots: UnsafeMutablePointer<Element>

    /// The next slot the producer fills; written by the producer only.
    private let writeIndex = Atomic<Int>(0)
    private var cachedReadIndex = 0
    // Keeps the producer's and the consumer's indices on different cache lines.
    private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    /// The next slot the consumer empties; written by the consumer only.
    private let readIndex = Atomic<Int>(0)
    private var cachedWriteIndex = 0

    /// Elements refused because the ring was full.
    package let dropped = Atomic<UInt64>(0)
    /// Set by the producer's owner when it is gone: the consumer drains the ring and forgets it.
    let isClosed = Atomic<Bool>(false)

    /// A ring with room for at least `minimumCapacity` elements, rounded up to a power of two.
    package init(minimumCapacity: Int) {
        precondition(minimumCapacity > 0 && minimumCapacity <= 1 << 30, "ring capacity \(minimumCapacity) is out of range")
        var capacity = 1
        while capacity < minimumCapacity { capacity <<= 1 }
        self.capacity = capacity
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
    }

    deinit {
        var read = readIndex.load(ordering: .relaxed)
        let write = writeIndex.load(ordering: .relaxed)
        while read != write {
            (slots + (read & mask)).deinitialize(count: 1)
            read &+= 1
        }
        slots.deallocate()
    }

    /// Producer side: appends `element`, or returns false and counts a drop when the ring is full.
    @inline(__always)
    package func push(_ element: consuming Element) -> Bool {
        let write = writeIndex.load(ordering: .relaxed)
        if write &- cachedReadIndex == capacity {
            cachedReadIndex = readIndex.load(ordering: .acquiring)
            if write &- cachedReadIndex == capacity {
                dropped.add(1, ordering: .relaxed)
                return false
            }
        }
        (slots + (write & mask)).initialize(to: element)
        writeIndex.store(write &+ 1, ordering: .releasing)
        return true
    }

    /// Consumer side: removes and returns the oldest element, or nil when the ring is empty.
    @inline(__always)
    package func pop() -> Element? {
        let read = readIndex.load(ordering: .relaxed)
        if read == cachedWriteIndex {
            cachedWriteIndex = writeIndex.load(ordering: .acquiring)
            if read == cachedWriteIndex { return nil }
        }
        let element = (slots + (read & mask)).move()
        readIndex.store(read &+ 1, ordering: .releasing)
        return element
    }

    /// How many elements are waiting; exact only when both sides are idle.
    var count: Int {
        writeIndex.load(ordering: .acquiring) &- readIndex.load(ordering: .acquiring)
    }
}
