/// The one way a number is written for people and read back by the command language: a whole
/// number without a point ("16", "4"), any other in the shortest text that reads back as the same
/// value: as a Float when the value is one, so a Float setting of 0.7 shows "0.7" and not
/// "0.699999988079071", else as a Double ("0.30000000000000004").
public func formatNumber(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
    if x.isFinite, Double(Float(x)) == x { return String(Float(x)) }
    return String(x)
}
