// synack rules show|clean: the firewall rules synack installed in this network namespace.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "common.hpp"
#include "synack/link/capabilities.hpp"
#include "synack/link/rst_guard.hpp"

namespace synack::tools {

namespace {

// Which table a rule is in: "ipv4" (iptables) or "ipv6" (ip6tables).
const char* family_name(const link::rule_record& r) { return r.family == wire::ip_family::v6 ? "ipv6" : "ipv4"; }

}  // namespace

void add_rules_command(CLI::App& app, std::function<int()>& action) {
  CLI::App* cmd = app.add_subcommand("rules", "Show or clean the firewall rules synack installed");
  cmd->require_subcommand(1);
  cmd->footer(
      "While it runs, synack keeps one rule in the filter table's OUTPUT chain that drops the RSTs the\n"
      "kernel would send from synack's source address and port range: an iptables rule for an IPv4\n"
      "address, an ip6tables rule for an IPv6 one (both when it uses both), each tagged with a comment\n"
      "\"synack pid=PID start=TICKS\". They are removed on every exit; a run killed with SIGKILL leaves\n"
      "them behind until the next synack start or `synack rules clean`. Both families are shown and\n"
      "cleaned (IPv6 only where ip6tables is installed).\n\n"
      "Examples:\n  synack rules show\n  synack rules clean");
  auto json = std::make_shared<bool>(false);
  CLI::App* show = cmd->add_subcommand("show", "List synack's rules with their owner and whether it is alive");
  show->add_flag("--json", *json, "One JSON object per rule");
  show->callback([&action, json] {
    action = [json]() -> int {
      link::require_net_raw_and_admin();
      auto rules = link::rst_guard::list_rules();
      if (*json) {
        for (const auto& r : rules)
          std::printf("%s\n", nlohmann::json{{"family", family_name(r)},
                                                 {"pid", r.pid},
                                                 {"start", r.start},
                                                 {"alive", r.alive},
                                                 {"rule", r.rule}}
                                  .dump()
                                  .c_str());
        return exit_ok;
      }
      if (rules.empty()) {
        std::printf("no synack rules installed\n");
        return exit_ok;
      }
      std::printf("%-6s %-8s %-6s %s\n", "FAMILY", "PID", "ALIVE", "RULE");
      for (const auto& r : rules)
        std::printf("%-6s %-8d %-6s %s\n", family_name(r), r.pid, r.alive ? "yes" : "no", r.rule.c_str());
      return exit_ok;
    };
  });
  CLI::App* clean = cmd->add_subcommand("clean", "Remove the rules whose owner process is gone");
  clean->callback([&action] {
    action = []() -> int {
      link::require_net_raw_and_admin();
      std::size_t n = link::rst_guard::clean_stale_rules();
      std::printf("removed %zu stale synack rule%s\n", n, n == 1 ? "" : "s");
      return exit_ok;
    };
  });
}

}  // namespace synack::tools
