// synack rules show|clean: the firewall rules synack installed in this network namespace, and the
// devices it made (own-address macvlans, synackm<PID>).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "common.hpp"
#include "synack/link/capabilities.hpp"
#include "synack/link/error.hpp"
#include "synack/link/macvlan.hpp"
#include "synack/link/rst_guard.hpp"

namespace synack::tools {

namespace {

// Which table a rule is in: "ipv4" (iptables) or "ipv6" (ip6tables).
const char* family_name(const link::rule_record& r) { return r.family == wire::ip_family::v6 ? "ipv6" : "ipv4"; }

// The rules, or none when iptables is not installed (an own-address user needs none): the devices
// are still shown and cleaned.
std::vector<link::rule_record> rules_if_any(bool& no_iptables) {
  try {
    return link::rst_guard::list_rules();
  } catch (const link::setup_error& e) {
    if (e.code() != link::setup_errc::iptables_missing) throw;
    no_iptables = true;
    return {};
  }
}

}  // namespace

void add_rules_command(CLI::App& app, std::function<int()>& action) {
  CLI::App* cmd = app.add_subcommand("rules", "Show or clean the firewall rules and devices synack installed");
  cmd->require_subcommand(1);
  cmd->footer(
      "While it runs, synack keeps one rule in the filter table's OUTPUT chain that drops the RSTs the\n"
      "kernel would send from synack's source address and port range: an iptables rule for an IPv4\n"
      "address, an ip6tables rule for an IPv6 one (both when it uses both), each tagged with a comment\n"
      "\"synack pid=PID start=TICKS\". They are removed on every exit; a run killed with SIGKILL leaves\n"
      "them behind until the next synack start or `synack rules clean`. Both families are shown and\n"
      "cleaned (IPv6 only where ip6tables is installed).\n\n"
      "Devices too: with --own-address, synack makes a macvlan named synackm<PID> (alias \"synack pid=PID\n"
      "start=TICKS\"), deleted on every exit; one left by a SIGKILLed run is listed here and deleted by\n"
      "`synack rules clean` (and by the next own-address start). A macvlan you named with -I is never\n"
      "touched.\n\n"
      "Examples:\n  synack rules show\n  synack rules clean");
  auto json = std::make_shared<bool>(false);
  CLI::App* show = cmd->add_subcommand("show", "List synack's rules and devices with their owner and whether it is alive");
  show->add_flag("--json", *json, "One JSON object per rule ({\"family\",...}) and per device ({\"device\",...})");
  show->callback([&action, json] {
    action = [json]() -> int {
      link::require_net_raw_and_admin();
      bool no_iptables = false;
      auto rules = rules_if_any(no_iptables);
      auto devices = link::macvlan::list();
      if (*json) {
        for (const auto& r : rules)
          std::printf("%s\n", nlohmann::json{{"family", family_name(r)},
                                                 {"pid", r.pid},
                                                 {"start", r.start},
                                                 {"alive", r.alive},
                                                 {"rule", r.rule}}
                                  .dump()
                                  .c_str());
        for (const auto& d : devices)
          std::printf("%s\n", nlohmann::json{{"device", d.name},
                                                 {"kind", "macvlan"},
                                                 {"parent", d.parent},
                                                 {"pid", d.pid},
                                                 {"start", d.start},
                                                 {"alive", d.alive}}
                                  .dump()
                                  .c_str());
        return exit_ok;
      }
      if (no_iptables) std::printf("iptables not installed: no firewall rules\n");
      if (rules.empty() && !no_iptables) std::printf("no synack rules installed\n");
      if (!rules.empty()) {
        std::printf("%-6s %-8s %-6s %s\n", "FAMILY", "PID", "ALIVE", "RULE");
        for (const auto& r : rules)
          std::printf("%-6s %-8d %-6s %s\n", family_name(r), r.pid, r.alive ? "yes" : "no", r.rule.c_str());
      }
      if (!devices.empty()) {
        std::printf("%-15s %-8s %-6s %s\n", "DEVICE", "PID", "ALIVE", "PARENT");
        for (const auto& d : devices)
          std::printf("%-15s %-8d %-6s %s (macvlan, --own-address)\n", d.name.c_str(), d.pid, d.alive ? "yes" : "no",
                      d.parent.c_str());
      }
      return exit_ok;
    };
  });
  CLI::App* clean = cmd->add_subcommand("clean", "Remove the rules and devices whose owner process is gone");
  clean->callback([&action] {
    action = []() -> int {
      link::require_net_raw_and_admin();
      std::size_t n = 0;
      try {
        n = link::rst_guard::clean_stale_rules();
      } catch (const link::setup_error& e) {
        if (e.code() != link::setup_errc::iptables_missing) throw;  // no iptables: no rules to clean
      }
      std::size_t d = link::macvlan::clean_stale();
      std::printf("removed %zu stale synack rule%s and %zu stale device%s\n", n, n == 1 ? "" : "s", d,
                  d == 1 ? "" : "s");
      return exit_ok;
    };
  });
}

}  // namespace synack::tools
