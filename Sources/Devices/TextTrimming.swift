extension StringProtocol {
    /// The text without the leading and trailing characters `isTrimmed` picks (spaces and tabs
    /// by default). Foundation's `trimmingCharacters(in:)` is not in FoundationEssentials, and
    /// device servers link only that (see `avp-serve`).
    func trimmed(where isTrimmed: (Character) -> Bool = { $0 == " " || $0 == "\t" }) -> String {
        guard let first = firstIndex(where: { !isTrimmed($0) }), let last = lastIndex(where: { !isTrimmed($0) }) else { return "" }
        return String(self[first...last])
    }
}
