/// Every strategy, in the order tables and `--strategies all` list them. A new strategy is one line here.
public enum StrategyRegistry {
    public static var all: [any ReplayStrategy.Type] { [
        NativeStrategy.self,
        HardwareAssistStrategy.self,
        HardwareShadowStrategy.self,
        HardwareNestedStrategy.self,
        ScanBeforeExecuteStrategy.self,
        PageFaultNXStrategy.self,
        PageFaultLegacyStrategy.self,
        BinaryTranslationNoLinkStrategy.self,
        BinaryTranslationLinkStrategy.self,
        BinaryTranslationIBTCStrategy.self,
        BinaryTranslationQEMUStrategy.self,
    ] }

    public static var names: [String] { all.map { $0.name } }

    public static func strategy(named name: String) -> (any ReplayStrategy.Type)? {
        all.first { $0.name == name }
    }
}
