// A segment-script vocabulary for driving one connection, after smoltcp's socket tests:
//
//     send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload("abc"));
//     expect(at(100ms), seg().seq(iss + 1).ack(irs + 4));
//     expect_nothing(at(100ms));
//
// Every call first fires the timers due by its time, in deadline order, as the engine would.
// `expect` compares sequence number, ACK, flags and payload always, the window only when .win()
// was given, and the options only when an option method (or .no_options()) was used. Failures
// name the script line (std::source_location) and show expected and actual segments.
#pragma once

#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "source_location.hpp"
#include "synack/tcp/connection.hpp"
#include "tcp/printers.hpp"

namespace synack::tcp::test {

using namespace std::chrono_literals;
using loc = synack::test::source_location;

inline instant at(duration d) { return instant{d}; }

inline std::string where(const loc& l) {
  std::string f = l.file_name();
  if (auto slash = f.rfind('/'); slash != std::string::npos) f = f.substr(slash + 1);
  return f + ":" + std::to_string(l.line());
}

inline std::string to_string(const segment& s) {
  std::ostringstream o;
  o << "[seq=" << s.seq_num.value();
  if (s.ack_num) o << " ack=" << s.ack_num->value();
  o << " flags=" << (s.syn ? "S" : "") << (s.fin ? "F" : "") << (s.rst ? "R" : "") << (s.psh ? "P" : "")
    << (s.ack_num ? "." : "") << " win=" << s.window << " len=" << s.payload.size();
  const auto& op = s.options;
  if (op.mss) o << " mss=" << *op.mss;
  if (op.window_scale) o << " ws=" << unsigned{*op.window_scale};
  if (op.sack_permitted) o << " sackOK";
  if (op.timestamps) o << " ts=" << op.timestamps->tsval << "/" << op.timestamps->tsecr;
  for (std::size_t i = 0; i < op.sack_count; ++i) o << " sack=" << op.sack[i].left << "-" << op.sack[i].right;
  o << "]";
  return o.str();
}

inline std::vector<std::byte> bytes_of(std::string_view text) {
  std::vector<std::byte> v(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) v[i] = static_cast<std::byte>(text[i]);
  return v;
}

inline std::string text_of(std::span<const std::byte> b) {
  std::string s(b.size(), '\0');
  for (std::size_t i = 0; i < b.size(); ++i) s[i] = static_cast<char>(b[i]);
  return s;
}

// A segment to send, or the description of one expected. Owns its payload bytes.
class seg {
public:
  seg& seq(std::uint32_t v) { s_.seq_num = tcp::seq{v}; return *this; }
  seg& ack(std::uint32_t v) { s_.ack_num = tcp::seq{v}; return *this; }
  seg& syn() { s_.syn = true; return *this; }
  seg& fin() { s_.fin = true; return *this; }
  seg& rst() { s_.rst = true; return *this; }
  seg& psh() { s_.psh = true; return *this; }
  seg& win(std::uint16_t w) { s_.window = w; check_window_ = true; return *this; }
  seg& mss(std::uint16_t m) { s_.options.mss = m; check_options_ = true; return *this; }
  seg& wscale(std::uint8_t shift) { s_.options.window_scale = shift; check_options_ = true; return *this; }
  seg& sack_perm() { s_.options.sack_permitted = true; check_options_ = true; return *this; }
  seg& ts(std::uint32_t val, std::uint32_t ecr) {
    s_.options.timestamps = wire::tcp_timestamps{val, ecr};
    check_options_ = true;
    return *this;
  }
  // One SACK block [left, right) (RFC 2018), after any given before.
  seg& sack(std::uint32_t left, std::uint32_t right) {
    auto& o = s_.options;
    if (o.sack_count < o.sack.size()) o.sack[o.sack_count++] = {left, right};
    check_options_ = true;
    return *this;
  }
  seg& no_options() { check_options_ = true; return *this; }
  seg& payload(std::string_view text) { data_ = bytes_of(text); return *this; }
  seg& payload(std::vector<std::byte> data) { data_ = std::move(data); return *this; }

  // The segment, with a payload view into this object.
  segment view() const {
    segment s = s_;
    s.payload = data_;
    if (!check_window_) s.window = default_window;
    return s;
  }

  bool matches(const segment& actual) const {
    const segment& e = s_;
    if (actual.seq_num != e.seq_num || actual.ack_num != e.ack_num) return false;
    if (actual.syn != e.syn || actual.fin != e.fin || actual.rst != e.rst || actual.psh != e.psh) return false;
    if (text_of(actual.payload) != text_of(data_)) return false;
    if (check_window_ && actual.window != e.window) return false;
    if (check_options_ && !(actual.options == e.options)) return false;
    return true;
  }

  std::string describe() const {
    std::string d = to_string(view());
    if (!check_window_) d.replace(d.find(" win="), 5 + std::to_string(default_window).size(), " win=*");
    if (!check_options_) d += " (options not checked)";
    return d;
  }

  static constexpr std::uint16_t default_window = 8192;  // what scripted peers advertise

private:
  segment s_;
  std::vector<std::byte> data_;
  bool check_window_ = false;
  bool check_options_ = false;
};

inline config test_config() {
  config c;
  c.recv_buffer = 4096;  // our window, unscaled unless the peer offers window scaling
  c.send_buffer = 8192;
  // The scripts of the state machine see every ACK at once and every segment as soon as it may
  // go; the data-path tests turn delayed ACKs and Nagle back on where they test them.
  c.delayed_ack = duration::zero();
  c.nodelay = true;
  // SYN retransmissions at their exact deadlines (the scripts say at(1s), at(3s), ...); the
  // coalescing has its own test.
  c.coalesce_syn_timer = false;
  return c;
}

inline siphash_key test_key() {
  siphash_key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::byte>(0xa0 + i);
  return k;
}

inline constexpr wire::four_tuple test_tuple{wire::ipv4_addr::from_octets(10, 0, 0, 1), 40000,
                                             wire::ipv4_addr::from_octets(10, 0, 0, 2), 80};

// One connection under test plus the script vocabulary. Fixtures derive from it and put the
// connection in a state by really exchanging the segments.
class script {
public:
  explicit script(config cfg = test_config(), wire::four_tuple tuple = test_tuple)
      : isns_(test_key()), conn_(cfg, isns_, tuple) {}
  script(const script&) = delete;
  script& operator=(const script&) = delete;

  connection& conn() { return conn_; }
  const isn_generator& isns() const { return isns_; }

  // Fire, in deadline order, every timer due by t (what the engine does).
  void advance(instant t, const loc& l = loc::current()) {
    BOOST_CHECK_MESSAGE(t >= now_, where(l) << ": script time goes backwards");
    while (auto d = conn_.next_deadline()) {
      if (*d > t) break;
      conn_.on_timer(*d);
    }
    now_ = t;
  }

  void send(instant t, const seg& s, const loc& l = loc::current()) {
    advance(t, l);
    conn_.on_segment(t, s.view());
  }

  void expect(instant t, const seg& want, const loc& l = loc::current()) {
    advance(t, l);
    const auto got = conn_.poll_transmit(t);
    if (!got) {
      BOOST_ERROR(where(l) << ": expected " << want.describe() << ", got nothing");
      return;
    }
    BOOST_CHECK_MESSAGE(want.matches(*got),
                        where(l) << ": expected " << want.describe() << "\n      got " << to_string(*got));
  }

  void expect_nothing(instant t, const loc& l = loc::current()) {
    advance(t, l);
    const auto got = conn_.poll_transmit(t);
    BOOST_CHECK_MESSAGE(!got, where(l) << ": expected nothing, got " << (got ? to_string(*got) : ""));
  }

  // The next segment, whatever it is (for tests that compute with its fields).
  std::optional<segment> transmit(instant t, const loc& l = loc::current()) {
    advance(t, l);
    return conn_.poll_transmit(t);
  }

  void expect_state(state s, const loc& l = loc::current()) {
    BOOST_CHECK_MESSAGE(conn_.current_state() == s, where(l) << ": expected state " << to_string(s) << ", is "
                                                              << to_string(conn_.current_state()));
  }

  void expect_deadline(std::optional<instant> t, const loc& l = loc::current()) {
    const auto d = conn_.next_deadline();
    BOOST_CHECK_MESSAGE(d == t, where(l) << ": expected next deadline "
                                         << (t ? std::to_string(t->time_since_epoch().count()) : "none") << " ns, is "
                                         << (d ? std::to_string(d->time_since_epoch().count()) : "none"));
  }

  // Events: the next one must be of this kind (state_changed checked with from/to).
  void expect_event(event::kind k, const loc& l = loc::current()) {
    const auto e = conn_.poll_event();
    BOOST_CHECK_MESSAGE(e && e->what == k, where(l) << ": expected event " << name(k) << ", got "
                                                    << (e ? name(e->what) : std::string("none")));
  }
  void expect_state_change(state from, state to, const loc& l = loc::current()) {
    const auto e = conn_.poll_event();
    const bool ok = e && e->what == event::kind::state_changed && e->from == from && e->to == to;
    BOOST_CHECK_MESSAGE(ok, where(l) << ": expected state_changed " << to_string(from) << " -> " << to_string(to)
                                     << ", got " << describe(e));
  }
  void expect_error_event(std::errc ec, const loc& l = loc::current()) {
    const auto e = conn_.poll_event();
    const bool ok = e && e->what == event::kind::error && e->ec == std::make_error_code(ec);
    BOOST_CHECK_MESSAGE(ok, where(l) << ": expected error " << std::make_error_code(ec).message() << ", got "
                                     << describe(e));
  }
  void expect_no_event(const loc& l = loc::current()) {
    const auto e = conn_.poll_event();
    BOOST_CHECK_MESSAGE(!e, where(l) << ": expected no event, got " << describe(e));
  }
  void drain_events() {
    while (conn_.poll_event()) {
    }
  }
  // Skip events until one of kind k; fail if there is none.
  std::optional<event> find_event(event::kind k, const loc& l = loc::current()) {
    while (auto e = conn_.poll_event())
      if (e->what == k) return e;
    BOOST_ERROR(where(l) << ": no " << name(k) << " event queued");
    return std::nullopt;
  }

  // User calls.
  std::size_t user_send(std::string_view text) { return conn_.send(bytes_of(text)); }
  std::string user_receive(std::size_t max = 65536) {
    std::vector<std::byte> buf(max);
    buf.resize(conn_.receive(buf));
    return text_of(buf);
  }

  static std::string name(event::kind k) {
    switch (k) {
      case event::kind::state_changed: return "state_changed";
      case event::kind::connected: return "connected";
      case event::kind::readable: return "readable";
      case event::kind::eof: return "eof";
      case event::kind::writable: return "writable";
      case event::kind::error: return "error";
      case event::kind::closed: return "closed";
    }
    return "?";
  }
  static std::string describe(const std::optional<event>& e) {
    if (!e) return "none";
    std::string d = name(e->what);
    if (e->what == event::kind::state_changed)
      // Appended piece by piece: g++ 12 at -O3 reports a false -Werror=restrict in the inlined
      // operator+ chain of temporaries (GCC bug 105329).
      d.append(" ").append(to_string(e->from)).append(" -> ").append(to_string(e->to));
    if (e->what == event::kind::error) d.append(" ").append(e->ec.message());
    return d;
  }

  // --- putting the connection in a state by exchanging segments -------------------------------
  // Sequence numbers: ours start at iss, the peer's at irs. Change them before opening.
  std::uint32_t iss = 1000;
  std::uint32_t irs = 5000;
  static constexpr std::uint16_t our_window = 4096;  // test_config().recv_buffer, unscaled

  void open_syn_sent() {
    conn_.connect(at(0ms), tcp::seq{iss});
    expect(at(0ms), seg().seq(iss).syn().win(our_window).mss(1460).wscale(7).sack_perm().ts(0, 0));
    drain_events();
  }
  // SYN_SENT -> ESTABLISHED with a SYN-ACK without options (so: no scaling, no timestamps).
  void open_established() {
    open_syn_sent();
    send(at(10ms), seg().seq(irs).ack(iss + 1).syn());
    expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).win(our_window).no_options());
    drain_events();
  }
  void open_listen() {
    conn_.listen();
    conn_.set_remote(test_tuple.remote_addr, test_tuple.remote_port);
    drain_events();
  }
  // LISTEN -> SYN_RCVD; our ISS is the generator's, which `iss` is set to.
  void open_syn_received() {
    open_listen();
    iss = isns_.generate(test_tuple, at(0ms)).value();
    send(at(0ms), seg().seq(irs).syn().mss(1400));
    expect(at(0ms), seg().seq(iss).ack(irs + 1).syn().win(our_window).mss(1460));
    drain_events();
  }
  void open_passive_established() {
    open_syn_received();
    send(at(10ms), seg().seq(irs + 1).ack(iss + 1));
    drain_events();
  }
  void open_fin_wait_1() {  // as a kernel socket's close(): the owner reads no more
    open_established();
    conn_.close();
    conn_.orphan(at(20ms));
    expect(at(20ms), seg().seq(iss + 1).ack(irs + 1).fin());
    drain_events();
  }
  void open_fin_wait_2() {
    open_fin_wait_1();
    send(at(30ms), seg().seq(irs + 1).ack(iss + 2));
    drain_events();
  }
  void open_time_wait() {
    open_fin_wait_2();
    send(at(40ms), seg().seq(irs + 1).ack(iss + 2).fin());
    expect(at(40ms), seg().seq(iss + 2).ack(irs + 2));
    drain_events();
  }
  void open_closing() {
    open_fin_wait_1();
    send(at(30ms), seg().seq(irs + 1).ack(iss + 1).fin());
    expect(at(30ms), seg().seq(iss + 2).ack(irs + 2));
    drain_events();
  }
  void open_close_wait() {
    open_established();
    send(at(20ms), seg().seq(irs + 1).ack(iss + 1).fin());
    expect(at(20ms), seg().seq(iss + 1).ack(irs + 2));
    drain_events();
  }
  void open_last_ack() {
    open_close_wait();
    conn_.close();
    expect(at(30ms), seg().seq(iss + 1).ack(irs + 2).fin());
    drain_events();
  }

private:
  isn_generator isns_;  // before conn_: the connection keeps a pointer to it
  connection conn_;
  instant now_{};
};

// Boost.Test fixtures: the connection already in the named state.
struct closed_fixture : script {};
struct syn_sent_fixture : script { syn_sent_fixture() { open_syn_sent(); } };
struct established_fixture : script { established_fixture() { open_established(); } };
struct listen_fixture : script { listen_fixture() { open_listen(); } };
struct syn_received_fixture : script { syn_received_fixture() { open_syn_received(); } };
struct passive_established_fixture : script { passive_established_fixture() { open_passive_established(); } };
struct fin_wait_1_fixture : script { fin_wait_1_fixture() { open_fin_wait_1(); } };
struct fin_wait_2_fixture : script { fin_wait_2_fixture() { open_fin_wait_2(); } };
struct time_wait_fixture : script { time_wait_fixture() { open_time_wait(); } };
struct closing_fixture : script { closing_fixture() { open_closing(); } };
struct close_wait_fixture : script { close_wait_fixture() { open_close_wait(); } };
struct last_ack_fixture : script { last_ack_fixture() { open_last_ack(); } };
// ESTABLISHED with both sides' sequence numbers a few bytes short of 2^32.
struct established_near_wrap_fixture : script {
  established_near_wrap_fixture() {
    iss = 0xfffffffc;
    irs = 0xfffffffe;
    open_established();
  }
};

}  // namespace synack::tcp::test
