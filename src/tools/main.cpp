// synack: one binary, one subcommand per tool.
#include <cstdio>
#include <exception>
#include <functional>

#include <CLI/CLI.hpp>

#include "common.hpp"
#include "synack/link/error.hpp"

#ifndef SYNACK_VERSION
#define SYNACK_VERSION "0.0.0"
#endif

namespace synack::tools {
void add_ping_command(CLI::App& app, std::function<int()>& action);
void add_bench_command(CLI::App& app, std::function<int()>& action);
void add_rules_command(CLI::App& app, std::function<int()>& action);
void add_impair_command(CLI::App& app, std::function<int()>& action);
void add_get_command(CLI::App& app, std::function<int()>& action);
void add_serve_command(CLI::App& app, std::function<int()>& action);
void add_trace_command(CLI::App& app, std::function<int()>& action);
}  // namespace synack::tools

int main(int argc, char** argv) {
  using namespace synack::tools;
  CLI::App app{"synack: a user-space TCP endpoint over AF_PACKET, and the tools built on it"};
  app.set_version_flag("-V,--version", std::string("synack ") + SYNACK_VERSION);
  app.require_subcommand(1);
  app.footer("Run `synack SUBCOMMAND --help` for each subcommand's options and examples.");
  std::function<int()> action;
  add_ping_command(app, action);
  add_bench_command(app, action);
  add_rules_command(app, action);
  add_impair_command(app, action);
  add_get_command(app, action);
  add_serve_command(app, action);
  add_trace_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "synack: %s (see `synack --help`)\n", e.what());
    return exit_setup;
  }
  try {
    return action ? action() : exit_setup;
  } catch (const synack::link::setup_error& e) {
    std::fprintf(stderr, "synack: %s\n", e.what());
    return exit_setup;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synack: %s\n", e.what());
    return exit_setup;
  }
}
