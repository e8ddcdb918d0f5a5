// --stats FILE: the engine's counters (frames, parse drops by reason, TCP drops by reason, the
// listener's queues) as one JSON object, written atomically (a temporary file, then rename).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "synack/engine/engine.hpp"

namespace synack::tools {

// {"engine":{...,"dropped":{reason:N,...},"dropped_total":N},"tcp":{...},"listener":{...}|null,
//  "connections":N}. Every parse_error reason appears, zero or not.
nlohmann::json stats_json(const engine::engine& eng, const engine::listener_stats* listener);

// Writes `j` to `path` through `path`.tmp and rename(2), so a reader never sees half a file.
// Returns false (and says why on stderr) when it cannot.
bool write_stats_file(const std::string& path, const nlohmann::json& j);

}  // namespace synack::tools
