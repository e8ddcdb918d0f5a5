// Socket options of synack::asio::basic_socket: Asio's own option types (ip::tcp::no_delay,
// socket_base::keep_alive, linger, receive_buffer_size, send_buffer_size) plus synack's (MSS,
// keepalive timing, user timeout, congestion control), all through set_option()/get_option().
//
// Each option type has a detail::option_traits specialisation that stores it in socket_options;
// detail::apply_options() turns socket_options into the tcp::config of a new connection, and
// detail::apply_live() changes an open connection (no_delay, keep_alive and its timing, user
// timeout, congestion control), as setsockopt() does on a connected kernel socket. Buffer sizes
// and the MSS are fixed once the SYN is out (error::errc::option_after_connect).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>

#include "synack/asio/error.hpp"
#include "synack/tcp/config.hpp"
#include "synack/tcp/connection.hpp"

namespace synack::asio {

namespace tcp_option {

// TCP_MAXSEG: the MSS we offer in our SYN (clamped to the interface MTU - 40). Before connect.
class max_segment_size {
public:
  max_segment_size() = default;
  explicit max_segment_size(int v) : value_(v) {}
  int value() const { return value_; }
private:
  int value_ = 0;
};

// TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT in one (Linux defaults 7200 s / 75 s / 9).
struct keepalive_timing {
  std::chrono::seconds idle{7200};
  std::chrono::seconds interval{75};
  unsigned count = 9;
};

// TCP_USER_TIMEOUT: give up (timed_out) when sent data stays unacknowledged this long; 0 = the
// retransmission limit decides (the default).
class user_timeout {
public:
  user_timeout() = default;
  explicit user_timeout(std::chrono::milliseconds v) : value_(v) {}
  std::chrono::milliseconds value() const { return value_; }
private:
  std::chrono::milliseconds value_{0};
};

// TCP_CONGESTION: the congestion controller by name ("reno" or "newreno", "cubic"; "" = the core's
// default, CUBIC as Linux).
class congestion_control {
public:
  congestion_control() = default;
  explicit congestion_control(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
private:
  std::string name_;
};

}  // namespace tcp_option

namespace detail {

// Everything set on one socket. Defaults are Linux's.
struct socket_options {
  bool no_delay = false;
  bool keep_alive = false;
  bool linger_enabled = false;
  int linger_seconds = 0;
  std::optional<std::size_t> receive_buffer;  // bytes; default tcp::config::recv_buffer
  std::optional<std::size_t> send_buffer;     // bytes; default tcp::config::send_buffer
  std::optional<std::uint16_t> mss;
  tcp_option::keepalive_timing keepalive;
  std::chrono::milliseconds user_timeout{0};
  std::string congestion_control;
};

inline std::optional<tcp::congestion_algorithm> congestion_by_name(const std::string& name) {
  if (name == "reno" || name == "newreno") return tcp::congestion_algorithm::newreno;
  if (name == "cubic") return tcp::congestion_algorithm::cubic;
  return std::nullopt;
}

inline tcp::keepalive_config keepalive_of(const socket_options& o) {
  tcp::keepalive_config k;
  k.enabled = o.keep_alive;
  k.idle = o.keepalive.idle;
  k.interval = o.keepalive.interval;
  k.probes = o.keepalive.count;
  return k;
}

// Fills a new connection's settings.
inline void apply_options(const socket_options& o, tcp::config& cfg) {
  if (o.mss && *o.mss < cfg.mss) cfg.mss = *o.mss;
  // A size set by the user is fixed, as SO_RCVBUF / SO_SNDBUF turn Linux's autotuning off.
  constexpr auto biggest = static_cast<std::size_t>(tcp::config::max_buffer);
  if (o.receive_buffer)
    cfg.recv_buffer = cfg.recv_buffer_initial = static_cast<std::uint32_t>(std::clamp<std::size_t>(*o.receive_buffer, 1024, biggest));
  if (o.send_buffer)
    cfg.send_buffer = cfg.send_buffer_initial = static_cast<std::uint32_t>(std::clamp<std::size_t>(*o.send_buffer, 1024, biggest));
  cfg.nodelay = o.no_delay;
  cfg.keepalive = keepalive_of(o);
  cfg.user_timeout = o.user_timeout;
  if (auto a = congestion_by_name(o.congestion_control)) cfg.congestion_control = *a;
}

// Changes an open connection's settings (those a kernel socket changes after connect).
inline void apply_live(const socket_options& o, tcp::connection& c) {
  c.set_nodelay(o.no_delay);
  c.set_keepalive(keepalive_of(o));
  c.set_user_timeout(o.user_timeout);
  if (auto a = congestion_by_name(o.congestion_control)) c.set_congestion_control(*a);
}

// option_traits<Option>: set(opts, option, connected) -> error_code; get(opts, cfg) -> Option.
template <class Option>
struct option_traits;  // not specialised: the option is not supported (compile error)

template <>
struct option_traits<boost::asio::ip::tcp::no_delay> {
  static boost::system::error_code set(socket_options& o, const boost::asio::ip::tcp::no_delay& v, bool) {
    o.no_delay = v.value();
    return {};
  }
  static boost::asio::ip::tcp::no_delay get(const socket_options& o) { return boost::asio::ip::tcp::no_delay(o.no_delay); }
};

template <>
struct option_traits<boost::asio::socket_base::keep_alive> {
  static boost::system::error_code set(socket_options& o, const boost::asio::socket_base::keep_alive& v, bool) {
    o.keep_alive = v.value();
    return {};
  }
  static boost::asio::socket_base::keep_alive get(const socket_options& o) {
    return boost::asio::socket_base::keep_alive(o.keep_alive);
  }
};

template <>
struct option_traits<boost::asio::socket_base::linger> {
  static boost::system::error_code set(socket_options& o, const boost::asio::socket_base::linger& v, bool) {
    o.linger_enabled = v.enabled();
    o.linger_seconds = v.timeout();
    return {};
  }
  static boost::asio::socket_base::linger get(const socket_options& o) {
    return boost::asio::socket_base::linger(o.linger_enabled, o.linger_seconds);
  }
};

template <>
struct option_traits<boost::asio::socket_base::receive_buffer_size> {
  static boost::system::error_code set(socket_options& o, const boost::asio::socket_base::receive_buffer_size& v,
                                       bool connected) {
    if (connected) return error::errc::option_after_connect;
    if (v.value() <= 0) return boost::asio::error::invalid_argument;
    o.receive_buffer = static_cast<std::size_t>(v.value());
    return {};
  }
  static boost::asio::socket_base::receive_buffer_size get(const socket_options& o) {
    return boost::asio::socket_base::receive_buffer_size(
        static_cast<int>(o.receive_buffer.value_or(tcp::config{}.recv_buffer)));
  }
};

template <>
struct option_traits<boost::asio::socket_base::send_buffer_size> {
  static boost::system::error_code set(socket_options& o, const boost::asio::socket_base::send_buffer_size& v,
                                       bool connected) {
    if (connected) return error::errc::option_after_connect;
    if (v.value() <= 0) return boost::asio::error::invalid_argument;
    o.send_buffer = static_cast<std::size_t>(v.value());
    return {};
  }
  static boost::asio::socket_base::send_buffer_size get(const socket_options& o) {
    return boost::asio::socket_base::send_buffer_size(
        static_cast<int>(o.send_buffer.value_or(tcp::config{}.send_buffer)));
  }
};

template <>
struct option_traits<tcp_option::max_segment_size> {
  static boost::system::error_code set(socket_options& o, const tcp_option::max_segment_size& v, bool connected) {
    if (connected) return error::errc::option_after_connect;
    if (v.value() < 88 || v.value() > 65495) return boost::asio::error::invalid_argument;  // Linux's bounds
    o.mss = static_cast<std::uint16_t>(v.value());
    return {};
  }
  static tcp_option::max_segment_size get(const socket_options& o) {
    return tcp_option::max_segment_size(o.mss.value_or(tcp::config{}.mss));
  }
};

template <>
struct option_traits<tcp_option::keepalive_timing> {
  static boost::system::error_code set(socket_options& o, const tcp_option::keepalive_timing& v, bool) {
    if (v.idle.count() < 1 || v.interval.count() < 1 || v.count < 1) return boost::asio::error::invalid_argument;
    o.keepalive = v;
    return {};
  }
  static tcp_option::keepalive_timing get(const socket_options& o) { return o.keepalive; }
};

template <>
struct option_traits<tcp_option::user_timeout> {
  static boost::system::error_code set(socket_options& o, const tcp_option::user_timeout& v, bool) {
    if (v.value().count() < 0) return boost::asio::error::invalid_argument;
    o.user_timeout = v.value();
    return {};
  }
  static tcp_option::user_timeout get(const socket_options& o) { return tcp_option::user_timeout(o.user_timeout); }
};

template <>
struct option_traits<tcp_option::congestion_control> {
  static boost::system::error_code set(socket_options& o, const tcp_option::congestion_control& v, bool) {
    if (!v.name().empty() && !congestion_by_name(v.name())) return error::errc::option_not_supported;
    o.congestion_control = v.name();
    return {};
  }
  static tcp_option::congestion_control get(const socket_options& o) {
    return tcp_option::congestion_control(o.congestion_control);
  }
};

}  // namespace detail
}  // namespace synack::asio
