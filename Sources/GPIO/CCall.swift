import Glibc

// Every C call that can fail goes through one of the two `cCall` overloads below (the swift-system
// `valueOrErrno` pattern): the call is repeated while it fails with EINTR, and any other failure becomes a
// `GPIOError` that carries errno, its strerror text, the C function's name and what the caller was doing.

/// Runs a C call that reports failure as a negative return value with errno set (the libgpiod and libc
/// convention), retrying on EINTR. Returns the non-negative result.
func cCall(
    _ function: String, _ operation: @autoclosure () -> GPIOError.Operation, _ call: () -> Int32
) throws(GPIOError) -> Int32 {
    try retryingOnInterrupt(function, operation, call, failed: { $0 < 0 })
}

/// Runs a C call that reports failure as NULL with errno set (gpiod_chip_open*, gpiod_chip_get_line),
/// retrying on EINTR. Returns the non-NULL pointer.
func cCall(
    _ function: String, _ operation: @autoclosure () -> GPIOError.Operation, _ call: () -> OpaquePointer?
) throws(GPIOError) -> OpaquePointer {
    // The force unwrap is safe: `failed` rejects nil, so only a non-nil pointer is ever returned.
    try retryingOnInterrupt(function, operation, call, failed: { $0 == nil })!
}

private func retryingOnInterrupt<Result>(
    _ function: String, _ operation: () -> GPIOError.Operation, _ call: () -> Result,
    failed: (Result) -> Bool
) throws(GPIOError) -> Result {
    while true {
        let result = call()
        guard failed(result) else { return result }
        let code = errno
        guard code == EINTR else {
            throw GPIOError(operation(), .system(errno: code, message: errorText(code), function: function))
        }
    }
}

/// The C library's text for an errno value (strerror), e.g. "No such file or directory" for ENOENT.
private func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}
