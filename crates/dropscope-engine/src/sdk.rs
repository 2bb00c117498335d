//! What an `sdkVersion` user agent says about the client: its SDK family and a short form.
//!
//! The classifier groups renewal ages by SDK family, the ranking's evidence names the families,
//! and the report breaks disconnects down by family: all through [`sdk_family`], so one agent
//! string never gets two different answers.

/// The key of a breakdown row when the SDK or protocol is unknown, and the family of an empty
/// user agent.
pub const NONE_KEY: &str = "(none)";

/// The SDK family of an `sdkVersion` user agent (docs/research/iothub-logs.md, "SDK version in IoT
/// Hub logs"): `.NET`, `Java`, `Node.js`, `Python`, `C`; another agent's product token (the
/// text before the first `/`, space or `(`) as is; [`NONE_KEY`] when empty.
pub fn sdk_family(user_agent: &str) -> &str {
    let agent = user_agent.trim();
    let lower = |prefix: &str| {
        agent.len() >= prefix.len()
            && agent.is_char_boundary(prefix.len())
            && agent[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    if lower(".NET") || lower("microsoft.azure.devices") {
        ".NET"
    } else if lower("com.microsoft.azure.sdk.iot") || lower("com.microsoft.azure.iothub") {
        "Java"
    } else if lower("azure-iot-device-iothub-py") || lower("azure-iot-device-py") {
        "Python"
    } else if lower("azure-iot-device") || lower("azure-iothub") {
        "Node.js"
    } else if lower("iothubclient") || lower("azure-iot-sdk-c") || agent == "C" || lower("C +") {
        "C"
    } else {
        let end = agent.find(['/', ' ', '(']).unwrap_or(agent.len());
        let product = agent[..end].trim();
        if product.is_empty() { NONE_KEY } else { product }
    }
}

/// An `sdkVersion` user agent without its platform details: the product and version
/// (`.NET/1.38.0`), plus the start of the installation id the .NET SDK appends
/// (`.NET/1.38.0 {76F30A12}`), which tells two installs of one version apart.
pub fn short_agent(user_agent: &str) -> String {
    let agent = user_agent.trim();
    let product = agent.split_whitespace().next().unwrap_or_default();
    let install = agent
        .rfind('{')
        .map(|open| &agent[open + 1..])
        .and_then(|rest| rest.split(['}', '-']).next())
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()));
    match install {
        Some(id) => format!("{product} {{{id}}}"),
        None => product.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_families() {
        let agents = [
            (".NET/1.21.2 (.NET Framework 4.8.4200.0; Microsoft Windows 10.0.17763)", ".NET"),
            ("Microsoft.Azure.Devices.Client/1.5.1", ".NET"),
            ("com.microsoft.azure.sdk.iot.iot-device-client/1.30.0 (Linux; amd64)", "Java"),
            ("com.microsoft.azure.iothub-java-client/1.1.1", "Java"),
            ("azure-iot-device/1.17.1 (node v10.16.0; Windows_NT 10.0.18363; x64)", "Node.js"),
            ("azure-iot-device-iothub-py/2.10.0 (3.10.12; Linux)", "Python"),
            ("iothubclient/1.11.0 (native; Linux; x86_64)", "C"),
            ("C + (OSSimplified = Eclipse ThreadX)", "C"),
            ("C", "C"),
            ("my-gateway/2.0 (custom)", "my-gateway"),
            ("  ", NONE_KEY),
            ("é", "é"),
        ];
        for (agent, family) in agents {
            assert_eq!(sdk_family(agent), family, "{agent}");
        }
    }

    #[test]
    fn short_agents() {
        let agents = [
            (
                ".NET/1.38.0 (.NET Core 3.1.19; Microsoft Windows 10.0.22000; X64; {FF88E933-1C12-457D-A098-A5093B53FBA2})",
                ".NET/1.38.0 {FF88E933}",
            ),
            (
                "azure-iot-device/1.17.1 (node v10.16.0; Windows_NT 10.0.18363; x64)",
                "azure-iot-device/1.17.1",
            ),
            ("iothubclient/1.11.0 (native; Linux; x86_64)", "iothubclient/1.11.0"),
            ("odd {not-hex}", "odd"),
            ("{", "{"),
            ("", ""),
        ];
        for (agent, short) in agents {
            assert_eq!(short_agent(agent), short, "{agent}");
        }
    }
}
