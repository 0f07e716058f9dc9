import Foundation

/// sin x and cos x together in both lanes, for the qubit shot loop: one Cody–Waite reduction by π/2
/// (three-part π/2, as in fdlibm's __ieee754_rem_pio2 for medium arguments) and fdlibm's minimax kernels
/// on [−π/4, π/4] (__kernel_sin, __kernel_cos; error below 1 ulp there), the quadrant applied with bit
/// operations rather than branches. Within 1e-15 of libm for |x| ≤ 2²⁰; lanes with larger or non-finite
/// arguments get libm's values.
@inline(__always)
func sineCosine(_ x: SIMD2<Double>) -> (sin: SIMD2<Double>, cos: SIMD2<Double>) {
    // Round to nearest by adding and subtracting 1.5·2⁵² (no SSE4.1 round instruction in the baseline);
    // the low bits of the shifted value's pattern are n's, modulo 4.
    let shifted = x * 0.636_619_772_367_581_382_43 + 0x1.8p52
    let n = shifted - 0x1.8p52
    // pio2_1 and pio2_2 have 33 significant bits, so n·pio2_1 and n·pio2_2 are exact for |n| < 2²⁰.
    let pio2_1 = 1.570_796_326_734_125_614_17, pio2_2 = 6.077_100_506_303_965_976_60e-11
    let pio2_3 = 2.022_266_248_711_166_455_80e-21
    let r = ((x - n * pio2_1) - n * pio2_2) - n * pio2_3
    let z = r * r
    // Horner steps one at a time: a single SIMD expression this long defeats the type checker.
    var sinP = -2.505_076_025_340_686_341_95e-08 + z * 1.589_690_995_211_550_102_21e-10
    sinP = 2.755_731_370_707_006_767_89e-06 + z * sinP
    sinP = -1.984_126_982_985_794_931_34e-04 + z * sinP
    sinP = 8.333_333_333_322_489_461_24e-03 + z * sinP
    sinP = -1.666_666_666_666_663_243_48e-01 + z * sinP
    let sinR = r + z * r * sinP
    var cosP = 2.087_572_321_298_174_827_90e-09 + z * -1.135_964_755_778_819_482_65e-11
    cosP = -2.755_731_435_139_066_330_35e-07 + z * cosP
    cosP = 2.480_158_728_947_672_941_78e-05 + z * cosP
    cosP = -1.388_888_888_887_410_957_49e-03 + z * cosP
    cosP = 4.166_666_666_666_660_190_37e-02 + z * cosP
    let tail = z * z * cosP
    let half = 0.5 * z, w = 1 - half
    let cosR = w + (((1 - w) - half) + tail)
    // Quadrant q: (sin, cos) = (sinR, cosR), (cosR, −sinR), (−sinR, −cosR), (−cosR, sinR).
    let q = unsafeBitCast(shifted, to: SIMD2<UInt64>.self)
    let sinBits = unsafeBitCast(sinR, to: SIMD2<UInt64>.self), cosBits = unsafeBitCast(cosR, to: SIMD2<UInt64>.self)
    let one = SIMD2<UInt64>.one, two = one &+ one, signShift = SIMD2<UInt64>(repeating: 62)
    let swapped = (sinBits ^ cosBits) & (SIMD2<UInt64>.zero &- (q & one))
    var sine = unsafeBitCast(sinBits ^ swapped ^ ((q & two) &<< signShift), to: SIMD2<Double>.self)
    var cosine = unsafeBitCast(cosBits ^ swapped ^ (((q &+ one) & two) &<< signShift), to: SIMD2<Double>.self)
    if _slowPath(!all((x .<= 0x1p20) .& (x .>= -0x1p20))) {
        for lane in 0..<2 where !(abs(x[lane]) <= 0x1p20) {
            sine[lane] = sin(x[lane])
            cosine[lane] = cos(x[lane])
        }
    }
    return (sine, cosine)
}
