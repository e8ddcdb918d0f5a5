// The engine: one thread that ties a link (a frame_io: the packet socket, or a memory link; netlink,
// ARP, RST guard, ports) to a table of sans-I/O TCP connections and their timers.
//
// Threading: an engine and its connections belong to the thread that calls run_once(); nothing in
// it is locked. Data path of one received frame: packet ring -> wire::parse_frame -> connection
// lookup by 4-tuple -> tcp::connection::on_segment -> poll_transmit -> wire emit -> packet socket.
// Every instant inside the engine comes from options::clock (steady_clock unless injected).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "synack/link/error.hpp"
#include "synack/link/netlink.hpp"
#include "synack/link/frame_io.hpp"
#include "synack/link/macvlan.hpp"
#include "synack/link/packet_socket.hpp"
#include "synack/link/ports.hpp"
#include "synack/link/rst_guard.hpp"
#include "synack/link/tun.hpp"
#include "synack/engine/timer_wheel.hpp"
#include "synack/tcp/config.hpp"
#include "synack/tcp/connection.hpp"
#include "synack/tcp/isn.hpp"
#include "synack/tcp/syn_cookie.hpp"
#include "synack/wire/address.hpp"
#include "synack/wire/arp.hpp"
#include "synack/wire/frame.hpp"
#include "synack/wire/icmpv6.hpp"
#include "synack/wire/icmp.hpp"
#include "synack/wire/ipv4.hpp"
#include "synack/wire/tcp.hpp"
#include "synack/wire/parse_error.hpp"

namespace synack::engine {

struct options {
  std::string interface;                  // empty: the interface of the route to the destination
  // Source address of the destination's family; empty: the route's preferred source address. The
  // other family's source is the interface's first usable address of that family, if it has one
  // (one engine holds IPv4 and IPv6 connections at once).
  std::optional<wire::ip_addr> source;
  std::optional<link::port_range> ports;  // empty: outside the kernel's ephemeral range
  bool rst_guard = true;                  // install the iptables rule that silences kernel RSTs
  bool qdisc_bypass = false;
  // The receive ring (link::packet_socket::options): its slot count bounds the frames that can
  // arrive between two drains; a bulk receiver wants more slots than the default 120.
  std::size_t rx_ring_bytes = 8 << 20;
  std::size_t rx_frame_size = (1 << 16) + 4096;  // a 65,535-byte IPv4 super-frame + headers
  // Software transmit timestamps on the packet socket (on_tx_timestamp), for wire timing.
  bool tx_timestamps = false;
  // Busy polling (--busy-poll[=us]): while run_once() waits, spin on the receive ring (no system
  // call) for up to this long before falling back to a blocking poll. 0: never spin (the default);
  // busy_poll_whole_wait: spin for the whole wait (one core stays busy while waiting).
  std::chrono::nanoseconds busy_poll{0};
  static constexpr std::chrono::nanoseconds busy_poll_whole_wait = std::chrono::nanoseconds::max();
  // Transmit batching: frames are queued while the engine processes (a ring drain, a timer round,
  // the events it delivers and what their handlers send) and leave with one sendmmsg at the end,
  // instead of one sendto each. false: every frame is sent at once (for comparison).
  bool tx_batching = true;
  tcp::config tcp;
  // Neighbour resolution when the kernel's table has no entry: our own ARP requests.
  std::chrono::milliseconds arp_interval{500};
  unsigned arp_tries = 3;  // then host_unreachable
  // Resource limits (0 = unlimited). max_connections caps the connection table: every entry
  // counts (half-open, queued and accepted children, closing and TIME_WAIT ones). At the cap a new
  // SYN is dropped (counted; the peer's SYN retransmission retries) and connect() throws.
  std::size_t max_connections = 0;
  // max_buffered_bytes caps the sum of every connection's send + receive buffer caps (the most
  // the connections can ever hold). A new connection gets its full buffers while they fit, then
  // smaller ones (an eighth of what is left, at least 4 x MSS each way: a smaller window); when
  // not even that fits its SYN is dropped (counted) and connect() throws.
  std::size_t max_buffered_bytes = 0;
  // At most this many connections in TIME_WAIT (Linux net.ipv4.tcp_max_tw_buckets): a connection
  // that would enter TIME_WAIT beyond it is closed at once instead (its last ACK is sent first;
  // event closed; its port is free again; counted in time_wait_overflow), as Linux destroys the
  // socket when its TIME_WAIT table is full. Default: unlimited. `synack bench` sets it from its
  // namespace's tcp_max_tw_buckets, so both engines of a run keep TIME_WAIT under the same rule.
  std::size_t max_time_wait = std::numeric_limits<std::size_t>::max();
  // The engine's clock: every instant the engine takes itself (in connect, send, receive, close,
  // ARP, ...) comes from here. Empty: steady_clock (engine::now()). A simulation injects a
  // virtual clock and passes the same instants to process().
  std::function<tcp::instant()> clock;
  // ICMP errors (issue 13): the packet filter also takes destination unreachable, time exceeded
  // and parameter problem quoting our TCP segments, and the engine acts on them (RFC 5927 checks
  // in the connection, tcp::connection::on_icmp_error / on_path_mtu). false: ICMP is not received.
  bool icmp = true;
  // At most this many ICMP errors processed per second, in bursts of up to icmp_burst (a token
  // bucket per engine; Linux's numbers for the ICMP it sends, icmp_msgs_per_sec and
  // icmp_msgs_burst). Beyond it they are dropped and counted. 0 = unlimited (as is a rate above
  // 1e9); a burst of 0 is taken as 1.
  unsigned icmp_rate = 1000;
  unsigned icmp_burst = 50;
  // Fragmentation needed below this MTU is taken as this MTU (Linux min_pmtu, 552 = 512 + 40):
  // a forged "MTU 68" would otherwise make every segment tiny.
  std::uint16_t min_pmtu = 552;
  // How long a path MTU learned from ICMP is kept for new connections to that destination (Linux
  // ip_rt_mtu_expires, 10 minutes).
  std::chrono::seconds pmtu_expires{600};
  // Seeds the ISN and SYN cookie secrets and the local port order, for a replayable run
  // (simulations). Empty: fresh random bytes per engine (getrandom), as a real stack must have.
  std::optional<std::uint64_t> seed;
  // This host (issue 15): synack as a separate host reachable from this one, through a tun device
  // it creates (link/tun.hpp: its own address, routed to the tun; no firewall rule). Chosen by
  // itself for a destination on this host (127.0.0.0/8 or an address the kernel owns) when no
  // interface is named; `this_host` forces it (a server for this host's kernel clients). `source`
  // then names synack's own address, which the kernel must not own.
  bool this_host = false;
  unsigned this_host_mtu = 65535;  // the tun's MTU: large packets, as lo's 64 KiB MTU gives the kernel
  // Own-address mode (issue 15, the tools' --own-address ADDR[/PREFIX]): synack is a host of its
  // own on the link. The engine makes a macvlan (link::macvlan) on the parent (`interface`, else
  // the route's interface; a macvlan named by `interface` is used as it is), sends from it with
  // ADDR as its only address, answers ARP/NDP for ADDR itself and installs no RST guard (the
  // kernel never owns ADDR, so it never answers for synack's connections). prefix_len: what is
  // on-link around ADDR; default the prefix of the parent's kernel address that contains ADDR,
  // else /32 (/128): everything else goes the way the kernel routes it from the parent (its
  // gateway). ADDR must be of the destination's family and not owned by the kernel.
  struct own_address_spec {
    wire::ip_addr address;
    std::optional<std::uint8_t> prefix_len;
  };
  std::optional<own_address_spec> own_address;
};

enum class direction : std::uint8_t { in, out };

// A listening port (engine::listen). Defaults follow Linux.
struct listen_options {
  // Accept queue: children that completed the handshake and wait for accept() (listen(2)'s
  // backlog). While it is full, SYNs are dropped and final ACKs too (Linux tcp_check_req with
  // tcp_abort_on_overflow=0): the peer's retransmissions retry once accept() made room.
  std::size_t backlog = 128;
  // Half-open queue: children in SYN_RCVD (Linux tcp_max_syn_backlog is 128..1024 by memory).
  std::size_t max_half_open = 256;
  // When the half-open queue is full: answer with SYN cookies (Linux tcp_syncookies=1) instead
  // of dropping the SYN.
  bool syn_cookies = true;
};

// Counters of one listener (cumulative, except the two queue lengths).
struct listener_stats {
  std::uint64_t syn_received = 0;            // SYNs for the port without a connection
  std::uint64_t half_open_created = 0;       // SYN_RCVD children made (a SYN-ACK each)
  std::uint64_t half_open_dropped = 0;       // children reset or timed out in SYN_RCVD
  std::uint64_t syn_dropped = 0;             // SYNs dropped: accept queue full, or half-open full without cookies
  std::uint64_t cookies_sent = 0;            // SYN-ACKs carrying a SYN cookie
  std::uint64_t cookies_validated = 0;       // cookie ACKs that made a connection
  std::uint64_t cookies_rejected = 0;        // ACKs whose cookie did not check (dropped)
  std::uint64_t accept_queue_overflows = 0;  // final ACKs dropped: the accept queue was full
  std::uint64_t accepted = 0;                // connections handed out by accept()
  std::size_t half_open = 0;                 // SYN_RCVD children now
  std::size_t accept_queue = 0;              // children waiting for accept() now
};

struct engine_stats {
  std::uint64_t frames_received = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t send_errors = 0;
  // Frames the kernel could not put in the receive ring because it was full (PACKET_STATISTICS,
  // read when a frame arrives flagged TP_STATUS_LOSING): the peer has to retransmit them.
  std::uint64_t rx_ring_drops = 0;
  std::uint64_t segments_no_connection = 0;  // answered with RST as a closed port would
  std::uint64_t arp_requests_sent = 0;
  std::uint64_t arp_replies_sent = 0;
  std::uint64_t ndp_solicitations_sent = 0;    // IPv6 neighbour solicitations (our own NDP)
  std::uint64_t ndp_advertisements_sent = 0;   // ... and advertisements for an address we answer for
  wire::parse_counters dropped;  // frames dropped or ignored, by reason
  // Resource limits (options::max_connections, max_buffered_bytes).
  std::uint64_t syn_dropped_table_full = 0;    // SYNs (and cookie ACKs) dropped: the table was full
  std::uint64_t syn_dropped_buffers_full = 0;  // ... no buffer budget left, even for the minimum
  std::uint64_t buffers_shrunk = 0;            // connections given smaller buffers than configured
  // The link: times the packet socket reported the interface down (ENETDOWN; sends then fail and
  // retransmission recovers once it is up again).
  std::uint64_t link_down = 0;
  // Connections that ended in an error, by cause (their `error` event).
  std::uint64_t connections_reset = 0;      // connection_reset: a valid RST
  std::uint64_t connections_timed_out = 0;  // timed_out: retransmissions (or probes) unanswered
  std::uint64_t connections_refused = 0;    // connection_refused
  std::uint64_t connections_failed_other = 0;
  // Connections closed instead of entering TIME_WAIT: options::max_time_wait were in it already
  // (Linux TCPTimeWaitOverflow).
  std::uint64_t time_wait_overflow = 0;
  // ICMP errors (issue 13), every one counted once by its outcome after icmp_received.
  std::uint64_t icmp_received = 0;        // errors quoting TCP (parsed; malformed ones are in `dropped`)
  std::uint64_t icmp_matched = 0;         // acted on by a connection (error, remembered error, PMTU)
  std::uint64_t icmp_no_connection = 0;   // quoting a segment not ours or a four-tuple we do not have
  std::uint64_t icmp_out_of_window = 0;   // quoted sequence number not outstanding (RFC 5927;
                                          // Linux LINUX_MIB_OUTOFWINDOWICMPS)
  std::uint64_t icmp_rate_limited = 0;    // dropped: over options::icmp_rate
  std::uint64_t icmp_ignored = 0;         // nothing to do: TIME_WAIT, reassembly time exceeded,
                                          // an unknown code, an MTU not lower than in use, ...
  std::uint64_t pmtu_lowered = 0;         // connections whose path MTU came down (frag needed)
  std::uint64_t pmtu_clamped = 0;         // frag-needed MTUs below options::min_pmtu raised to it
};

// tcp::connection_stats summed over every connection the engine has had, live and retired
// (engine::tcp_statistics()): what the TCP layer dropped and why, for --stats.
struct tcp_totals {
  std::uint64_t connections = 0;  // connections counted (live + retired)
  std::uint64_t retransmits = 0, syn_retransmits = 0, rto_expirations = 0, fast_retransmits = 0;
  std::uint64_t challenge_acks = 0, challenge_acks_limited = 0, invalid_acks_limited = 0;
  std::uint64_t rst_out_of_window = 0, rst_in_window = 0, syn_challenged = 0;
  std::uint64_t out_of_window = 0, bad_acks = 0, no_ack_dropped = 0, paws_rejected = 0;
  std::uint64_t ooo_segments = 0, ooo_dropped = 0, dup_acks = 0, bytes_beyond_window = 0;
  std::uint64_t zero_window_probes = 0, keepalive_probes = 0, events_dropped = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::uint64_t mtu_probes_sent = 0, mtu_probes_succeeded = 0, mtu_probes_failed = 0, blackholes_detected = 0;
  void add(const tcp::connection_stats& s);
};

// Re-entrancy rule. Event and accept handlers (on_event, on_acceptable) run only inside
// dispatch(), which run_once() and process() call after they have processed frames and timers, and
// which an external loop may call itself after its own engine calls. dispatch() never nests, and no
// other engine call delivers anything: send(), receive(), close(), abort(), connect(), accept() and
// modify() change the connection, send what it owes and queue its events, then return. So a
// caller may hold a reference or a span across any engine call without a handler running in
// between (erasing the session it belongs to, accepting another connection into a shared buffer),
// and a handler that calls back into the engine sees its events delivered after it returns, in the
// same dispatch() loop. Connections that reached CLOSED are erased by dispatch() after their
// `closed`/`error` event was delivered, never during a call.
class engine {
public:
  using clock = std::chrono::steady_clock;
  // Called from dispatch() only, never from inside a connection or an engine call: (tuple, event).
  using event_handler = std::function<void(const wire::four_tuple&, const tcp::event&)>;
  // Every segment in and out, with our state after it (for --trace and captures).
  using segment_observer =
      std::function<void(direction, tcp::instant, const wire::four_tuple&, const tcp::segment&, tcp::state)>;
  // Every frame in and out, raw (for --pcap).
  using frame_observer = std::function<void(direction, tcp::instant, std::span<const std::byte>)>;
  // Transmit timestamps (options::tx_timestamps): (frame id, CLOCK_REALTIME the frame reached the
  // driver). A frame's id is next_tx_id() as read in the observers called just before it is sent.
  using tx_timestamp_observer = std::function<void(std::uint32_t, std::chrono::nanoseconds)>;

  // Resolves the interface and source address (from `destination`'s route unless the options
  // say), opens the packet socket and installs the RST guard. Throws link::setup_error.
  engine(const options& opts, wire::ip_addr destination);
  // An engine on a link it is handed (a memory_link, later a tunnel), told what it would otherwise
  // learn from netlink. It touches nothing of the host: no netlink (destinations inside
  // facts.address/prefix_len are on-link, others go via facts.gateway; neighbours by our own ARP,
  // and we answer ARP for our address), no RST guard, no /proc (the port allocator does not skip
  // the kernel's ports). Ports: options::ports, else 61000-65535. options::interface (only a name
  // here), source, rst_guard, qdisc_bypass, tx_timestamps and the ring's geometry other than for
  // the receive-window cap are not used. Throws std::invalid_argument for a null `io`.
  engine(const options& opts, std::unique_ptr<link::frame_io> io, const link::link_facts& facts);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // steady_clock as a tcp::instant (the tools' clock). The engine itself reads clock_now().
  static tcp::instant now() { return tcp::instant{clock::now().time_since_epoch()}; }
  // The engine's clock (options::clock, else now()).
  tcp::instant clock_now() const { return opts_.clock ? opts_.clock() : now(); }

  // Active open to dst:port from a free local port. The SYN goes out at once if the next hop's
  // MAC is known, else after ARP. Throws std::runtime_error when no local port is free.
  // dst is IPv4 or IPv6; the source is local_address(dst.family()) (setup_error no_route when the
  // engine has no address of that family).
  wire::four_tuple connect(wire::ip_addr dst, std::uint16_t port);
  // The same with per-connection settings (start from tcp_config(): its MSS follows the MTU).
  wire::four_tuple connect(wire::ip_addr dst, std::uint16_t port, const tcp::config& cfg);
  // The TCP settings connect() uses: options::tcp with the MSS clamped to the interface's MTU.
  const tcp::config& tcp_config() const { return tcp_cfg_; }
  tcp::connection* find(const wire::four_tuple& t);
  // When the connection's first segment (the SYN) left, if it did.
  std::optional<tcp::instant> first_sent(const wire::four_tuple& t) const;
  // When the segment that completed the handshake was received (its ring wake-up time).
  std::optional<tcp::instant> connected_at(const wire::four_tuple& t) const;
  // The owner is done with the connection (a kernel socket's close()): FIN after the queued data,
  // and the owner reads no more, so FIN_WAIT_2 may time out (tcp::connection::orphan).
  void close(const wire::four_tuple& t);
  // Half-close (shutdown(SHUT_WR)): FIN after the queued data; receiving goes on for as long as
  // the peer sends, FIN_WAIT_2 included.
  void shutdown_send(const wire::four_tuple& t);
  void abort(const wire::four_tuple& t);
  std::size_t send(const wire::four_tuple& t, std::span<const std::byte> data);
  // Copy received data out (the window update, if one is owed, goes out at once).
  std::size_t receive(const wire::four_tuple& t, std::span<std::byte> out);

  // Wait for a frame, a timer or `max_wait` (whichever first), process, send, deliver events.
  // Returns early (after processing) when a signal interrupts the wait.
  // The interface going down is ridden out (stats().link_down; retransmission recovers once it is
  // up); its disappearance throws link::setup_error (unknown_interface), here and from process().
  void run_once(std::chrono::nanoseconds max_wait);

  // Non-blocking entry points for an external event loop (the Asio front end): wait until fd()
  // is readable or next_deadline() passes, then call process(now). process() drains every ready
  // frame of the receive ring, fires the due timers, sends and delivers events.
  // -1 when the link has no descriptor (a memory link: its harness drives process()).
  int fd() const { return io_->fd(); }
  void process(tcp::instant now);
  // Delivers the queued events and accept notifications (see the re-entrancy rule above) until
  // none is left, including those that the handlers' own engine calls queue. A call from inside a
  // handler returns at once. run_once() and process() end with it.
  void dispatch();
  // Events queued and not yet delivered (an owner that calls the engine outside run_once() or
  // process() calls dispatch() when this is true).
  bool events_pending() const { return !events_.empty() || !acceptable_.empty(); }
  // The earliest protocol deadline (connection timers and our own ARP retries), if any. It may
  // be early (see timer_wheel.hpp), never late.
  std::optional<tcp::instant> next_deadline() const;

  void on_event(event_handler h) { on_event_ = std::move(h); }
  void on_segment(segment_observer o) { on_segment_ = std::move(o); }
  void on_frame(frame_observer o) { on_frame_ = std::move(o); }

  // Changes a connection in place (socket options after connect) and lets the engine re-arm its
  // timer and send what the change allows. No-op for an unknown tuple.
  void modify(const wire::four_tuple& t, const std::function<void(tcp::connection&)>& f);
  void on_tx_timestamp(tx_timestamp_observer o) { on_tx_timestamp_ = std::move(o); }

  // --- passive opens (LISTEN) ------------------------------------------------------------------
  // Listen on a local port of ports() at local_address(); throws std::invalid_argument when the
  // port is outside the range (the packet filter and the RST guard cover only that range).
  // A SYN makes a child connection (LISTEN -> SYN_RCVD, per-connection settings from tcp_config())
  // in the half-open queue; once ESTABLISHED it moves to the accept queue and on_acceptable fires.
  void listen(std::uint16_t port, const listen_options& lo = {});
  // Stop listening: SYN_RCVD and queued (not yet accepted) children are reset; later SYNs get RSTs.
  void stop_listening(std::uint16_t port);
  // The oldest connection in the port's accept queue, if any (it is now the caller's).
  std::optional<wire::four_tuple> accept(std::uint16_t port);
  const listener_stats* listener_statistics(std::uint16_t port) const;
  // Called after processing (never from inside a connection) when a connection joined the
  // port's accept queue.
  using accept_handler = std::function<void(std::uint16_t)>;
  void on_acceptable(accept_handler h) { on_acceptable_ = std::move(h); }
  // Every connection in the table (half-open, queued and accepted children included).
  void for_each_connection(const std::function<void(const tcp::connection&)>& f) const;
  // The id the next frame sent will carry, when transmit timestamps are on.
  std::optional<std::uint32_t> next_tx_id() const;

  // The received frame being processed while handle_frame (and so a segment/frame observer) runs,
  // else null: its kernel timestamp (CLOCK_REALTIME) and checksum status, for wire timing and
  // captures.
  const link::rx_frame* current_rx_frame() const { return rx_frame_; }

  // --- crafted segments (synack trace) ------------------------------------------------------
  // A local port of ports() held for the caller: no connection is given it. Segments that arrive
  // for it are still answered as a closed port answers (RFC 9293 §3.10.7.1: a SYN-ACK gets a RST),
  // and the RST guard keeps the kernel quiet. nullopt when every port is taken.
  std::optional<std::uint16_t> reserve_port();
  void release_port(std::uint16_t port);
  // IP header fields of a crafted segment.
  struct raw_ip_fields {
    std::uint8_t ttl = 64;
    std::uint8_t dscp_ecn = 0;
    std::uint16_t identification = 0;
    bool dont_fragment = true;
    std::uint32_t flow_label = 0;  // IPv6 only (20 bits)
  };
  // Sends one TCP segment built by the caller (seg.src_port: a port of ports(), e.g. reserved)
  // from local_address() to dst, through the segment and frame observers like any other. Returns
  // {} once it is handed to the link (queued when called inside processing), or
  // operation_would_block while the next hop's MAC is unknown: an ARP request is then on its way
  // (run the engine and try again; ARP retries every options::arp_interval). Throws
  // link::setup_error when there is no route to dst, std::invalid_argument for a port outside
  // ports().
  // For IPv6, ttl is the hop limit, dscp_ecn the traffic class and flow_label the flow label;
  // identification and dont_fragment do not apply (nor flow_label to IPv4).
  std::error_code send_segment(wire::ip_addr dst, const wire::tcp_repr& seg, const raw_ip_fields& ip);

  std::size_t connection_count() const { return conns_.size(); }
  // Connections in TIME_WAIT now (options::max_time_wait bounds it).
  std::size_t time_wait_count() const { return time_wait_count_; }
  // Send + receive buffer caps of every connection now (options::max_buffered_bytes bounds it).
  std::size_t buffered_bytes_reserved() const { return buffer_reserved_; }
  // Buffer storage every connection holds now (what the buffers cost, as opposed to their caps:
  // they grow with what is queued and are given back when drained). Walks the table.
  std::size_t buffer_memory() const;
  const options& settings() const { return opts_; }
  const engine_stats& stats() const { return stats_; }
  // Every connection's counters summed (those already retired included).
  tcp_totals tcp_statistics() const;
  const link::interface_info& interface() const { return iface_; }
  // On synack's own tun device for this host (options::this_host, or a destination on this host).
  bool on_this_host() const { return this_host_; }
  // The link has no link-layer header (a tun, WireGuard; this host's tun too).
  bool l3_link() const { return l3_; }
  // The path MTU learned from ICMP for `dst` (kept options::pmtu_expires), if any: new connections
  // to it start with the MSS it allows.
  std::optional<std::uint16_t> cached_path_mtu(wire::ip_addr dst) const;
  // The source address of the construction destination's family.
  wire::ip_addr local_address() const { return primary_; }
  // Our address of a family, if the engine has one.
  std::optional<wire::ip_addr> local_address(wire::ip_family f) const {
    if (f == wire::ip_family::v4) return local4_ ? std::optional<wire::ip_addr>{*local4_} : std::nullopt;
    return local6_ ? std::optional<wire::ip_addr>{*local6_} : std::nullopt;
  }
  // The MSS we offer to a destination's family on this interface (MTU - 40, IPv6 MTU - 60).
  std::uint16_t mss_for(const wire::ip_addr& dst) const;
  // The frame I/O the engine talks to (for a harness that owns the link's other side).
  link::frame_io& link_io() { return *io_; }
  link::port_range ports() const { return ports_; }
  const link::rst_guard* guard() const { return guard_ ? &*guard_ : nullptr; }
  // Own-address mode: the macvlan synack sends from (made or adopted), else null.
  const link::macvlan* own_device() const { return macvlan_ ? &*macvlan_ : nullptr; }

private:
  struct entry;
  struct neighbour;
  struct listener {
    listen_options opts;
    listener_stats stats;
    std::deque<wire::four_tuple> accept_queue;
    std::optional<tcp::instant> last_cookie;  // cookie ACKs are checked while this is recent
  };
  void handle_listen(listener& l, const wire::ip_info& ip, const wire::tcp_repr& seg, tcp::instant now);
  void listener_syn(listener& l, const wire::four_tuple& t, const tcp::segment& syn, tcp::instant now);
  void listener_cookie_ack(listener& l, const wire::four_tuple& t, const tcp::segment& ack, tcp::instant now);
  entry* make_child(listener& l, const wire::four_tuple& t, tcp::instant now);
  void update_child(entry& e);
  std::optional<wire::mac_addr> frame_source_mac() const;

  void handle_frame(const link::rx_frame& frame, tcp::instant now);
  void handle_arp(const wire::arp_repr& arp);
  void handle_ndp(const wire::ip_info& ip, const wire::ndp_repr& nd);
  void handle_tcp(const wire::ip_info& ip, const wire::tcp_repr& seg, tcp::instant now);
  // One ICMP or ICMPv6 error, family-agnostic: type/code in its own family's numbering.
  struct icmp_in {
    bool v6 = false;
    std::uint8_t type = 0, code = 0;
    std::uint32_t mtu = 0;  // fragmentation needed / packet too big, else 0
    const wire::icmp_quote* quote = nullptr;
  };
  void handle_icmp(const wire::ip_info& ip, const icmp_in& m, tcp::instant now);
  bool icmp_allowed(tcp::instant now);
  static void sanitize_icmp_limits(options& o);
  void learn_path_mtu(wire::ip_addr dst, std::uint16_t mtu, tcp::instant now);
  // The settings for a new connection to `dst`: its MSS capped by the route (RTAX_MTU/ADVMSS) and
  // the path MTU cache.
  tcp::config config_for(const tcp::config& base, wire::ip_addr dst, tcp::instant now);
  void reply_rst(const wire::ip_info& ip, const wire::tcp_repr& seg, tcp::instant now);
  void fire_timers(tcp::instant now);
  void mark_dirty(entry& e);
  void flush(tcp::instant now);
  // Erases a connection from the table (its port, accept-queue place, timer and counters too).
  void retire(std::unordered_map<wire::four_tuple, std::unique_ptr<entry>, wire::four_tuple_hash>::iterator it);
  void transmit(entry& e, tcp::instant now);
  void emit_segment(const wire::four_tuple& t, const wire::mac_addr& dst_mac, const tcp::segment& seg,
                    tcp::state st, tcp::instant now);
  void send_frame(std::span<const std::byte> frame, tcp::instant now);
  void kick();  // sends the queued frames (tx_batching)
  struct tx_hold;
  int tx_hold_ = 0;  // > 0 while a tx_hold lives: frames queue, the outermost hold sends them
  bool dispatching_ = false;  // dispatch() is delivering: it never nests
  // Spare buffers for dispatch(): no allocation per round.
  std::vector<std::pair<wire::four_tuple, tcp::event>> spare_batch_;
  std::vector<std::uint16_t> accepting_;
  // Neighbours: IPv4 by ARP, IPv6 by neighbour discovery (RFC 4861: a solicitation to the
  // target's solicited-node multicast group).
  void resolve(const wire::ip_addr& next_hop, tcp::instant now);
  void send_solicitation(const wire::ip_addr& target);
  void send_arp_request(wire::ipv4_addr target);
  void send_neighbour_solicitation(const wire::ipv6_addr& target);
  void send_ndp(const wire::ndp_repr& nd, const wire::ipv6_addr& dst, const wire::mac_addr& dst_mac);
  void neighbour_resolved(const wire::ip_addr& next_hop, wire::mac_addr mac, tcp::instant now);
  void neighbour_failed(const wire::ip_addr& next_hop);
  wire::ip_addr next_hop_for(const wire::ip_addr& dst);
  bool on_link(const wire::ip_addr& a) const;
  // Our address for talking to `remote` (its family); throws setup_error(no_route) without one.
  wire::ip_addr local_for(const wire::ip_addr& remote) const;
  bool is_local(const wire::ip_addr& a) const {
    return a.is_v4() ? (local4_ && a.v4() == *local4_) : (local6_ && a.v6() == *local6_);
  }
  void configure_tcp();  // tcp_cfg_ from options::tcp and the link's MTU and receive ring
  void open_this_host(wire::ip_addr destination);  // the netlink constructor's this-host branch
  // The link type (iface_.link_type): Ethernet-like, or an L3 link without link-layer header.
  void check_link_type(const std::string& what_for);
  // Own-address mode (options::own_address; engine_own_address.cpp): setup_own_address runs first
  // in the netlink constructor (refuses a kernel-owned ADDR, makes or adopts the macvlan, points
  // `interface`/`source` at it, turns the RST guard off); own_address_ready runs last (ADDR/PREFIX
  // as the interface's only address, gratuitous ARP or unsolicited NA).
  void setup_own_address(const wire::ip_addr& destination);
  void own_address_ready();
  std::optional<link::macvlan> macvlan_;  // declared before io_: deleted after the socket closes
  int own_parent_index_ = 0;              // the macvlan's lower device: its routes and neighbours
  std::uint8_t own_prefix_len_ = 0;

  options opts_;
  std::optional<link::netlink> netlink_;  // none for a link the engine was handed (frame_io ctor)
  std::optional<wire::ipv4_addr> gateway_;  // frame_io ctor: where off-link destinations go
  std::optional<wire::ipv6_addr> gateway6_;
  std::uint8_t prefix6_len_ = 64;           // frame_io ctor: local6_/prefix6_len_ is on-link
  link::interface_info iface_;
  // An L3 link (tun, WireGuard: ARPHRD_NONE): frames carry a synthetic Ethernet header (the
  // carrier adds and strips it), every destination is reached through the link itself (no
  // gateway, no ARP or NDP: neighbours resolve at once to the zero address).
  bool l3_ = false;
  bool this_host_ = false;  // on synack's own tun (open_this_host): routes of the host do not apply
  wire::mac_addr mac_;
  std::optional<wire::ipv4_addr> local4_;  // our IPv4 address, if we have one
  std::optional<wire::ipv6_addr> local6_;  // our IPv6 address, if we have one
  wire::ip_addr primary_;                  // the one of the construction destination's family
  bool local_is_kernel_address_ = true;    // for local4_ (a --source the kernel does not own: we answer ARP)
  bool local6_is_kernel_address_ = true;   // for local6_ (... and neighbour solicitations)
  link::port_range ports_;
  link::port_allocator port_alloc_;
  std::size_t time_wait_count_ = 0;  // entries whose entry into TIME_WAIT flush() has seen
  std::unique_ptr<link::frame_io> io_;  // the packet socket, or the link we were handed
  std::optional<link::rst_guard> guard_;
  tcp::isn_generator isns_;
  tcp::config tcp_cfg_;
  std::uint16_t ip_id_ = 0;

  // Resource limits: a connection's buffer caps, when the budget allows (nullopt: it does not).
  std::optional<tcp::config> grant_buffers(const tcp::config& want);
  bool table_full() const { return opts_.max_connections != 0 && conns_.size() >= opts_.max_connections; }
  // The link: the packet socket's pending error (and failed sends) checked after each wait; while
  // the interface is down it is looked up now and then, and its disappearance throws.
  void check_link(tcp::instant now, bool read_socket_error);
  bool link_down_ = false;
  bool link_send_error_ = false;
  tcp::instant next_link_check_{};

  std::size_t buffer_reserved_ = 0;  // before conns_: entries give their share back as they die
  std::unordered_map<wire::four_tuple, std::unique_ptr<entry>, wire::four_tuple_hash> conns_;
  std::vector<entry*> dirty_;
  std::vector<wire::four_tuple> overflowed_;  // flush(): over max_time_wait, retired after the walk
  timer_wheel wheel_{clock_now()};             // one timer per connection: its next_deadline()
  std::vector<wheel_hook*> due_;          // scratch for fire_timers
  std::unordered_map<wire::ip_addr, neighbour, wire::ip_addr_hash> neighbours_;   // by next-hop address
  std::unordered_map<wire::ip_addr, wire::ip_addr, wire::ip_addr_hash> next_hops_;  // destination -> next hop
  // The route's MSS cap per destination (netlink's RTAX_MTU / RTAX_ADVMSS, when set), read by
  // connect() only (never per received SYN) and re-read after a minute: the kernel's own path MTU
  // exceptions and `ip route change ... mtu` come and go.
  struct route_mss_entry {
    std::uint16_t mss;  // 0: the route sets neither
    tcp::instant expires;
  };
  std::unordered_map<wire::ip_addr, route_mss_entry, wire::ip_addr_hash> route_mss_;
  void read_route_metrics(const wire::ip_addr& dst, tcp::instant now);
  // Keeps route_mss_ and pmtu_cache_ bounded: past max_cached_paths entries, expired ones go.
  static constexpr std::size_t max_cached_paths = 4096;
  void sweep_path_caches(tcp::instant now);
  // Path MTUs learned from ICMP per destination, until `expires` (Linux's route exceptions).
  struct pmtu_entry {
    std::uint16_t mtu;
    tcp::instant expires;
  };
  std::unordered_map<wire::ip_addr, pmtu_entry, wire::ip_addr_hash> pmtu_cache_;
  // Who sent the ICMP error a connection took (attached to its `error` event); few entries.
  std::unordered_map<wire::four_tuple, tcp::icmp_origin, wire::four_tuple_hash> icmp_origins_;
  // The ICMP token bucket (options::icmp_rate).
  std::uint64_t icmp_tokens_ = 0;
  tcp::instant icmp_stamp_{};
  std::vector<std::byte> tx_buf_;
  std::vector<std::pair<wire::four_tuple, tcp::event>> events_;

  event_handler on_event_;
  segment_observer on_segment_;
  frame_observer on_frame_;
  tx_timestamp_observer on_tx_timestamp_;
  void drain_tx_timestamps();
  engine_stats stats_;
  tcp_totals retired_tcp_;  // counters of connections already erased from conns_
  const link::rx_frame* rx_frame_ = nullptr;
  std::unordered_map<std::uint16_t, listener> listeners_;  // by local port
  tcp::syn_cookie cookies_;
  // Cookie replays: an ACK whose sequence and acknowledgement numbers both moved on by the same
  // amount checks out as its connection's handshake cookie (an echo's late ACK of our FIN, after
  // our LAST_ACK closed, made a phantom ESTABLISHED connection). Children of a listener that sent
  // cookies recently are remembered here for a cookie's lifetime once retired; a cookie ACK for a
  // remembered tuple is rejected, a SYN for it forgets it. Bounded: the oldest go first.
  std::unordered_map<wire::four_tuple, tcp::instant, wire::four_tuple_hash> recently_closed_;
  std::deque<std::pair<wire::four_tuple, tcp::instant>> recently_closed_order_;
  static constexpr std::size_t max_recently_closed = 65536;
  void remember_closed(const wire::four_tuple& t, tcp::instant until);
  accept_handler on_acceptable_;
  std::vector<std::uint16_t> acceptable_;  // ports whose accept queue grew, announced by flush()
};

}  // namespace synack::engine
