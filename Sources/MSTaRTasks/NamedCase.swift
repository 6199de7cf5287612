/// An enum whose cases are named on the command line and in files by their raw values
/// (families, splits, dataset formats): parsed case-insensitively, refused with the list of names.
public protocol NamedCase: RawRepresentable, CaseIterable where RawValue == String {
    /// What a case is called in errors ("family", "split", "dataset format").
    static var caseKind: String { get }
}

extension NamedCase {
    /// The case called `name` (any letter case), or an error listing the names.
    public init(name: String) throws {
        guard let c = Self(rawValue: name.lowercased()) else {
            throw TasksError.invalid("unknown \(Self.caseKind) \"\(name)\"; use one of "
                + Self.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = c
    }
}
