import Foundation
import Glibc
import Testing

@testable import GPIO

/// The gpiochip* entries of /dev, listed with Foundation rather than the module's scandir.
private func gpioChipNamesInDev() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: "/dev").filter { $0.hasPrefix("gpiochip") }.sorted()
}

private let gpioChipZeroExists = FileManager.default.fileExists(atPath: "/dev/gpiochip0")
private let someGPIOChipExists = !((try? gpioChipNamesInDev()) ?? []).isEmpty

/// strerror's text for `code`, computed here rather than hard-coded.
private func text(_ code: Int32) -> String {
    String(cString: strerror(code))
}

@Suite("Opening chips that are not there")
struct MissingChipTests {
    @Test("Opening by name names the device path and carries ENOENT", .enabled(if: !gpioChipZeroExists))
    func openByName() {
        let error = #expect(throws: GPIOError.self) { try GPIOChip(opening: .name("gpiochip0")) }
        #expect(error?.errno == ENOENT)
        #expect(error?.operation == .openChip(.name("gpiochip0")))
        #expect(error?.description.contains("/dev/gpiochip0") == true)
        #expect(error?.description.contains(text(ENOENT)) == true)
        #expect(error?.description.contains("gpiod_chip_open_by_name") == true)
    }

    @Test("Opening by path names the path and carries ENOENT", .enabled(if: !gpioChipZeroExists))
    func openByPath() {
        let error = #expect(throws: GPIOError.self) { try GPIOChip(opening: .path("/dev/gpiochip0")) }
        #expect(error?.errno == ENOENT)
        #expect(error?.description.contains("/dev/gpiochip0") == true)
        #expect(error?.description.contains(text(ENOENT)) == true)
        #expect(error?.description.contains("gpiod_chip_open") == true)
    }

    @Test("Opening by number names the number and its device path", .enabled(if: !gpioChipZeroExists))
    func openByNumber() {
        let error = #expect(throws: GPIOError.self) { try GPIOChip(opening: .number(0)) }
        #expect(error?.errno == ENOENT)
        #expect(error?.description.contains("number 0 (/dev/gpiochip0)") == true)
        #expect(error?.description.contains(text(ENOENT)) == true)
    }

    @Test("Opening by label names the label and carries ENOENT")
    func openByLabel() {
        let error = #expect(throws: GPIOError.self) { try GPIOChip(opening: .label("no-such-label")) }
        #expect(error?.errno == ENOENT)
        #expect(error?.description.contains("\"no-such-label\"") == true)
        #expect(error?.description.contains(text(ENOENT)) == true)
        #expect(error?.description.contains("gpiod_chip_open_by_label") == true)
    }

    @Test("Looking a chip up names what was looked up", .enabled(if: !gpioChipZeroExists))
    func openByLookup() {
        let error = #expect(throws: GPIOError.self) { try GPIOChip(opening: .lookup("gpiochip0")) }
        #expect(error?.errno == ENOENT)
        #expect(error?.description.contains("\"gpiochip0\"") == true)
        #expect(error?.description.contains("gpiod_chip_open_lookup") == true)
    }

    @Test("Opening a file that is not a GPIO chip says so")
    func openNonChip() {
        let error = #expect(throws: GPIOError.self) { try GPIOChip(opening: .path("/dev/null")) }
        #expect(error?.errno == ENOTTY)
        #expect(error?.description.contains("/dev/null") == true)
        #expect(error?.description.contains(text(ENOTTY)) == true)
        #expect(error?.description.contains("not a GPIO chip") == true)
    }
}

@Test("available() lists the same chips as a directory listing of /dev")
func availableMatchesDev() throws {
    #expect(try GPIOChip.available() == gpioChipNamesInDev())
}

@Test(
    "Every chip in /dev opens with consistent information",
    .enabled(if: someGPIOChipExists, "needs at least one /dev/gpiochip*"))
func realChipsAreConsistent() throws {
    for name in try gpioChipNamesInDev() {
        let chip = try GPIOChip(opening: .path("/dev/" + name))
        #expect(chip.name == name)
        #expect(!chip.label.isEmpty)
        #expect(chip.lineCount > 0)
        let sameChip = try GPIOChip(opening: .name(name))
        #expect(sameChip.label == chip.label)
        #expect(sameChip.lineCount == chip.lineCount)
        #expect(try chip.lineInfo(at: 0).offset == 0)
        let last = UInt32(chip.lineCount - 1)
        #expect(try chip.lineInfo(at: last).offset == last)
        let error = #expect(throws: GPIOError.self) { try chip.lineInfo(at: UInt32(chip.lineCount)) }
        #expect(error?.reason == .offsetOutOfRange(lineCount: chip.lineCount))
    }
}
