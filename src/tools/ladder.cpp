#include "ladder.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace synack::tools {

namespace {

constexpr std::size_t min_arrow = 50;  // interior width between the two column bars

std::string format_time(double us) {
  if (us < 1000.0) return fmt::format("{:.1f} us", us);
  if (us < 1e6) return fmt::format("{:.3f} ms", us / 1e3);
  return fmt::format("{:.6f} s", us / 1e6);
}

std::string prefix(std::string_view time, std::string_view state) {
  return fmt::format("{:>12}  {:<12} ", time, state);
}

std::string label_of(const ladder_step& s) {
  if (s.what == ladder_step::kind::state)
    return fmt::format("({} -> {})", tcp::to_string(s.from), tcp::to_string(s.state));
  std::string l = fmt::format("{} seq {}", ladder_flags(s), s.seq);
  if (s.ack) l += fmt::format(" ack {}", *s.ack);
  l += fmt::format(" len {}", s.len);
  return l;
}

// Two strings in a field of `width`: `left` flush left, `right` flush right (one space at least).
std::string spread(std::string_view left, std::string_view right, std::size_t width) {
  std::size_t used = left.size() + right.size();
  std::size_t gap = used + 1 <= width ? width - used : 1;
  return fmt::format("{}{}{}", left, std::string(gap, ' '), right);
}

}  // namespace

std::string ladder_flags(const ladder_step& s) {
  std::string f;
  auto add = [&](std::string_view name) {
    if (!f.empty()) f += ',';
    f += name;
  };
  if (s.syn) add("SYN");
  if (s.fin) add("FIN");
  if (s.rst) add("RST");
  if (s.psh) add("PSH");
  if (s.ack) add("ACK");
  return f.empty() ? "-" : f;
}

std::string render_ladder(const ladder_ends& ends, const std::vector<ladder_step>& steps) {
  std::size_t width = min_arrow;
  for (const auto& s : steps) width = std::max(width, label_of(s).size() + 10);

  std::string out;
  const std::string blank = prefix("", "");
  out += prefix("time", "our state") + spread("us", "peer", width + 2) + '\n';
  out += blank + spread(ends.us, ends.peer, width + 2) + '\n';
  out += blank + '|' + std::string(width, ' ') + "|\n";
  for (const auto& s : steps) {
    std::string label = label_of(s);
    std::string mid;
    if (s.what == ladder_step::kind::state) {
      std::size_t left = (width - label.size()) / 2;
      mid = std::string(left, ' ') + label + std::string(width - left - label.size(), ' ');
    } else if (s.dir == engine::direction::out) {
      mid = "--- " + label + ' ';
      mid += std::string(width - 1 - mid.size(), '-') + '>';
    } else {
      mid = "<-- " + label + ' ';
      mid += std::string(width - mid.size(), '-');
    }
    out += prefix(format_time(s.t_us), tcp::to_string(s.state)) + '|' + mid + "|\n";
  }
  return out;
}

// --- recording -------------------------------------------------------------------------------

ladder_recorder::record& ladder_recorder::get(const wire::four_tuple& t, tcp::instant at) {
  for (auto& [tuple, r] : conns_)
    if (tuple == t) return r;
  conns_.emplace_back(t, record{at, {}});
  return conns_.back().second;
}

void ladder_recorder::segment(engine::direction dir, tcp::instant at, const wire::four_tuple& t,
                              const tcp::segment& seg, tcp::state after) {
  record& r = get(t, at);
  ladder_step s;
  s.what = ladder_step::kind::segment;
  s.t_us = std::chrono::duration<double, std::micro>(at - r.start).count();
  s.dir = dir;
  s.syn = seg.syn;
  s.fin = seg.fin;
  s.rst = seg.rst;
  s.psh = seg.psh;
  s.seq = seg.seq_num.value();
  if (seg.ack_num) s.ack = seg.ack_num->value();
  s.len = static_cast<std::uint32_t>(seg.payload.size());
  s.state = after;
  r.steps.push_back(s);
}

void ladder_recorder::state_change(tcp::instant at, const wire::four_tuple& t, tcp::state from, tcp::state to) {
  record& r = get(t, at);
  // Events arrive after the segments of the same batch, so a change is a row of its own only when
  // it starts from the state the last row left us in (the end of TIME_WAIT, a timeout); changes a
  // segment made already show in that segment's state column, and the opening CLOSED -> SYN_SENT is
  // the SYN's own row.
  if (r.steps.empty() || r.steps.back().state != from || from == to) return;
  ladder_step s;
  s.what = ladder_step::kind::state;
  s.t_us = std::chrono::duration<double, std::micro>(at - r.start).count();
  s.from = from;
  s.state = to;
  r.steps.push_back(s);
}

bool ladder_recorder::has(const wire::four_tuple& t) const { return steps(t) != nullptr; }

const std::vector<ladder_step>* ladder_recorder::steps(const wire::four_tuple& t) const {
  for (const auto& [tuple, r] : conns_)
    if (tuple == t) return &r.steps;
  return nullptr;
}

void ladder_recorder::erase(const wire::four_tuple& t) {
  std::erase_if(conns_, [&](const auto& c) { return c.first == t; });
}

std::string ladder_recorder::render(const wire::four_tuple& t) const {
  const auto* s = steps(t);
  if (s == nullptr) return {};
  ladder_ends ends{t.local_addr.to_string(t.local_port), t.remote_addr.to_string(t.remote_port)};
  return render_ladder(ends, *s);
}

}  // namespace synack::tools
