// The ladder renderer against golden files: a known exchange, encoding only (no traffic).
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "ladder.hpp"

using namespace synack;
using tools::ladder_step;

namespace {

ladder_step seg(double t, engine::direction d, const char* flags, std::uint32_t seq, std::optional<std::uint32_t> ack,
                std::uint32_t len, tcp::state st) {
  ladder_step s;
  s.what = ladder_step::kind::segment;
  s.t_us = t;
  s.dir = d;
  for (const char* f = flags; *f; ++f) {
    if (*f == 'S') s.syn = true;
    if (*f == 'F') s.fin = true;
    if (*f == 'R') s.rst = true;
    if (*f == 'P') s.psh = true;
  }
  s.seq = seq;
  s.ack = ack;
  s.len = len;
  s.state = st;
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Compares with tests/golden/NAME; SYNACK_UPDATE_GOLDEN=1 rewrites the file instead.
void check_golden(const std::string& name, const std::string& got) {
  std::string path = std::string(SYNACK_GOLDEN_DIR) + "/" + name;
  if (const char* u = std::getenv("SYNACK_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream(path) << got;
    return;
  }
  std::string want = read_file(path);
  BOOST_TEST_REQUIRE(!want.empty(), "missing golden file " << path << " (SYNACK_UPDATE_GOLDEN=1 writes it)");
  BOOST_TEST(got == want, "ladder differs from " << path << ":\n--- got:\n" << got << "--- want:\n" << want);
}

constexpr auto out = engine::direction::out;
constexpr auto in = engine::direction::in;

}  // namespace

BOOST_AUTO_TEST_SUITE(ladder)

// The seed's handshake: 192.168.1.116.3337 > 192.168.1.123.7788, ISN 3626544836, the peer's
// 1739326486; then our four-way close and TIME_WAIT running out.
BOOST_AUTO_TEST_CASE(seed_handshake_and_four_way_close_match_golden) {
  std::vector<ladder_step> steps = {
      seg(0.0, out, "S", 3626544836u, std::nullopt, 0, tcp::state::syn_sent),
      seg(41.2, in, "S", 1739326486u, 3626544837u, 0, tcp::state::established),
      seg(45.0, out, "", 3626544837u, 1739326487u, 0, tcp::state::established),
      seg(120.5, out, "F", 3626544837u, 1739326487u, 0, tcp::state::fin_wait_1),
      seg(161.0, in, "", 1739326487u, 3626544838u, 0, tcp::state::fin_wait_2),
      seg(1890.3, in, "F", 1739326487u, 3626544838u, 0, tcp::state::time_wait),
      seg(1893.9, out, "", 3626544838u, 1739326488u, 0, tcp::state::time_wait),
  };
  ladder_step end;
  end.what = ladder_step::kind::state;
  end.t_us = 1001893.9;
  end.from = tcp::state::time_wait;
  end.state = tcp::state::closed;
  steps.push_back(end);
  check_golden("ladder_seed_handshake_close.txt",
               tools::render_ladder({"192.168.1.116:3337", "192.168.1.123:7788"}, steps));
}

BOOST_AUTO_TEST_CASE(rst_close_and_data_match_golden) {
  std::vector<ladder_step> steps = {
      seg(0.0, out, "S", 1000u, std::nullopt, 0, tcp::state::syn_sent),
      seg(20.0, in, "S", 5000u, 1001u, 0, tcp::state::established),
      seg(21.0, out, "", 1001u, 5001u, 0, tcp::state::established),
      seg(22.0, out, "P", 1001u, 5001u, 18, tcp::state::established),
      seg(60.0, in, "P", 5001u, 1019u, 1448, tcp::state::established),
      seg(61.0, out, "R", 1019u, std::nullopt, 0, tcp::state::closed),
  };
  check_golden("ladder_data_rst.txt", tools::render_ladder({"10.111.0.1:61000", "10.111.0.2:80"}, steps));
}

BOOST_AUTO_TEST_CASE(flags_are_named_in_order) {
  ladder_step s = seg(0, out, "SF", 1, 2u, 0, tcp::state::closed);
  BOOST_TEST(tools::ladder_flags(s) == "SYN,FIN,ACK");
  BOOST_TEST(tools::ladder_flags(seg(0, out, "R", 1, std::nullopt, 0, tcp::state::closed)) == "RST");
}

// The recorder turns observer calls into steps: segment rows carry the state after them; a state
// change shows as its own row only when it starts where the last row left off.
BOOST_AUTO_TEST_CASE(recorder_skips_changes_the_segments_already_show) {
  tools::ladder_recorder r;
  wire::four_tuple t{wire::ipv4_addr{0x0a6f0001}, 61000, wire::ipv4_addr{0x0a6f0002}, 80};
  tcp::instant t0{};
  tcp::segment syn;
  syn.syn = true;
  syn.seq_num = tcp::seq{1000};
  r.segment(out, t0, t, syn, tcp::state::syn_sent);
  r.state_change(t0, t, tcp::state::closed, tcp::state::syn_sent);  // the SYN's own row
  tcp::segment fin_ack;
  fin_ack.fin = true;
  fin_ack.seq_num = tcp::seq{5001};
  fin_ack.ack_num = tcp::seq{1002};
  r.segment(in, t0 + std::chrono::microseconds{10}, t, fin_ack, tcp::state::time_wait);
  r.state_change(t0, t, tcp::state::fin_wait_1, tcp::state::fin_wait_2);  // folded into the FIN's row
  r.state_change(t0 + std::chrono::seconds{1}, t, tcp::state::time_wait, tcp::state::closed);
  const auto* steps = r.steps(t);
  BOOST_TEST_REQUIRE(steps != nullptr);
  BOOST_TEST_REQUIRE(steps->size() == 3u);
  BOOST_TEST((steps->at(2).what == ladder_step::kind::state));
  BOOST_TEST(steps->at(2).t_us == 1e6);
  BOOST_TEST(steps->at(1).t_us == 10.0);
  r.erase(t);
  BOOST_TEST(!r.has(t));
}

BOOST_AUTO_TEST_SUITE_END()
