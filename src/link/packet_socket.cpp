#include "synack/link/packet_socket.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "detail.hpp"
#include "synack/link/error.hpp"
#include "synack/link/rx_filter.hpp"

// Linux 6.1's uapi headers (Debian 12) predate this flag; the value is ABI.
#ifndef TP_STATUS_GSO_TCP
#define TP_STATUS_GSO_TCP (1 << 8)
#endif

namespace synack::link {

namespace {

constexpr std::size_t max_batch = 64;
constexpr std::size_t eth_header = 14;

// The ring's per-frame header (kernel ABI, not a received frame) and its status word, which the
// kernel and we hand back and forth: acquire when reading it, release when giving the slot back.
tpacket2_hdr* header_at(std::byte* slot) { return reinterpret_cast<tpacket2_hdr*>(slot); }
std::uint32_t load_status(tpacket2_hdr* h) {
  return std::atomic_ref<std::uint32_t>(h->tp_status).load(std::memory_order_acquire);
}

std::string interface_name(int ifindex) {
  char name[IF_NAMESIZE] = {};
  if (ifindex <= 0 || ::if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) return {};
  return name;
}

sockaddr_ll destination_of(std::span<const std::byte> frame, int ifindex, bool l3) {
  // SOCK_RAW sends the frame as is; the address only tells the kernel the device and skb->protocol.
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_ifindex = ifindex;
  std::memcpy(&addr.sll_protocol, frame.data() + 12, 2);  // already in network order
  if (!l3) {
    addr.sll_halen = 6;
    std::memcpy(addr.sll_addr, frame.data(), 6);
  }
  return addr;
}

// What leaves: the whole frame, or on an L3 link the IP packet after the synthetic header.
std::span<const std::byte> wire_part(std::span<const std::byte> frame, bool l3) {
  return l3 ? frame.subspan(eth_header) : frame;
}


}  // namespace

packet_socket::packet_socket(const options& opts) : opts_(opts) {
  try {
    std::string name = interface_name(opts.ifindex);
    if (name.empty())
      throw setup_error(setup_errc::unknown_interface,
                        "unknown interface index " + std::to_string(opts.ifindex) + " (list them with `ip link`)");

    // Protocol 0: the socket is on no receive path until bind() names a protocol (trap 7).
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw_system(errno, "cannot open a packet socket");

    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.c_str(), name.size() + 1);
    if (::ioctl(fd_, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) == 0)
      throw setup_error(setup_errc::interface_down,
                        "interface '" + name + "' is down (bring it up with `ip link set " + name + " up`)");

    // Trap 5: never see our own transmissions (Linux 4.20+; else drain() skips PACKET_OUTGOING).
    int one = 1;
    ignore_outgoing_ = ::setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0;

    if (opts.filter == rx_filter_mode::synack_tcp) {
      auto program = rx_filter_program(opts.local_addr, opts.ports, opts.icmp_errors, opts.local_addr6,
                                        opts.l3 ? 0 : eth_header);
      sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
      if (::setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) != 0)
        throw_system(errno, "cannot attach the packet filter");
    }

    // Anything that slipped in before the filter (nothing with protocol 0, but cheap to be sure).
    std::byte sink[1];
    while (::recv(fd_, sink, sizeof sink, MSG_DONTWAIT | MSG_TRUNC) >= 0) {
    }

    int version = TPACKET_V2;  // trap 6: not V3
    if (::setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0)
      throw_system(errno, "cannot select TPACKET_V2");

    // Frames are TPACKET_ALIGNMENT-aligned; a block is a power-of-two number of pages (the kernel
    // allocates it as one power-of-two page run) holding one or more whole frames. A frame size that
    // is not a power of two (the default: a 65,535-byte IPv4 super-frame plus its headers) gets a
    // block large enough that at most an eighth of it is left over (at most 4 MiB).
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    frame_size_ = std::max<std::size_t>(TPACKET_ALIGN(opts.rx_frame_size), TPACKET_ALIGN(TPACKET2_HDRLEN + 1600));
    block_size_ = std::bit_ceil(std::max(frame_size_, page));
    while ((block_size_ % frame_size_) * 8 > block_size_ && block_size_ < (std::size_t{4} << 20)) block_size_ *= 2;
    frames_per_block_ = block_size_ / frame_size_;
    std::size_t wanted = std::max<std::size_t>(opts.rx_ring_bytes / frame_size_, 8);
    std::size_t blocks = (wanted + frames_per_block_ - 1) / frames_per_block_;
    frame_count_ = blocks * frames_per_block_;
    if (opts.l3) {
      // Headroom for the synthetic Ethernet header between the slot's header and the packet.
      unsigned reserve = eth_header + 2;
      if (::setsockopt(fd_, SOL_PACKET, PACKET_RESERVE, &reserve, sizeof reserve) != 0)
        throw_system(errno, "cannot set PACKET_RESERVE");
    }
    tpacket_req req{};
    req.tp_block_size = static_cast<unsigned>(block_size_);
    req.tp_block_nr = static_cast<unsigned>(blocks);
    req.tp_frame_size = static_cast<unsigned>(frame_size_);
    req.tp_frame_nr = static_cast<unsigned>(frame_count_);
    if (::setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
      throw_system(errno, "cannot set up the receive ring (" + std::to_string(blocks * block_size_) + " bytes)");
    ring_bytes_ = blocks * block_size_;
    void* ring = ::mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (ring == MAP_FAILED) throw_system(errno, "cannot map the receive ring");
    ring_ = static_cast<std::byte*>(ring);

    if (opts.qdisc_bypass && ::setsockopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0)
      throw_system(errno, "cannot set PACKET_QDISC_BYPASS");

    // Oversized frames: a full copy goes to the receive queue (while it has room) and the slot
    // says TP_STATUS_COPY. A 64 KiB super-frame costs up to ~130 KiB of receive-buffer truesize.
    if (opts.copy_oversized && frame_size_ < (std::size_t{1} << 16) + 4096) {
      if (::setsockopt(fd_, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof one) != 0)
        throw_system(errno, "cannot set PACKET_COPY_THRESH");
      int bytes = 16 << 20;
      if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
      copy_buf_.resize((std::size_t{1} << 16) + 256 + eth_header);
    }

    if (opts.send_buffer_bytes > 0) {
      int bytes = static_cast<int>(std::min<std::size_t>(opts.send_buffer_bytes, 1 << 30));
      // FORCE ignores net.core.wmem_max but needs CAP_NET_ADMIN; plain SO_SNDBUF is capped.
      if (::setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0)
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    }

    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = opts.ifindex;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      if (errno == ENODEV)
        throw setup_error(setup_errc::unknown_interface,
                          "unknown interface '" + name + "' (list them with `ip link`)");
      throw_system(errno, "cannot bind the packet socket to '" + name + "'");
    }
    if (opts.promiscuous) {
      packet_mreq mreq{};
      mreq.mr_ifindex = opts.ifindex;
      mreq.mr_type = PACKET_MR_PROMISC;
      if (::setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0)
        throw_system(errno, "cannot put '" + name + "' in promiscuous mode");
    }
    if (opts.local_addr6 && opts.filter == rx_filter_mode::synack_tcp && !opts.l3) {
      // Neighbour solicitations for our address go to its solicited-node group, whose Ethernet
      // address the NIC filters out unless someone joined it. The kernel has joined it whenever
      // the address is configured on this interface (it owns the address and answers for it), so
      // this is normally a no-op; it matters when synack uses an address the kernel does not hold.
      // The membership ends when the socket closes.
      packet_mreq mreq{};
      mreq.mr_ifindex = opts.ifindex;
      mreq.mr_type = PACKET_MR_MULTICAST;
      mreq.mr_alen = 6;
      auto mac = opts.local_addr6->solicited_node().multicast_mac();
      std::memcpy(mreq.mr_address, mac.octets.data(), 6);
      if (::setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0)
        throw_system(errno, "cannot join the multicast group " + mac.to_string() + " on '" + name + "'");
    }
    if (opts.tx_timestamps) {
      int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
                  SOF_TIMESTAMPING_OPT_TSONLY;
      tx_timestamps_ = ::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
    }
    batch_.reserve(max_batch * 2048);
    batch_offsets_.reserve(max_batch);
    batch_sizes_.reserve(max_batch);
  } catch (...) {
    close();
    throw;
  }
}

packet_socket::~packet_socket() { close(); }

packet_socket::packet_socket(packet_socket&& other) noexcept
    : opts_(other.opts_),
      fd_(std::exchange(other.fd_, -1)),
      ignore_outgoing_(other.ignore_outgoing_),
      ring_(std::exchange(other.ring_, nullptr)),
      ring_bytes_(std::exchange(other.ring_bytes_, 0)),
      frame_size_(other.frame_size_),
      frames_per_block_(other.frames_per_block_),
      block_size_(other.block_size_),
      frame_count_(std::exchange(other.frame_count_, 0)),
      current_(std::exchange(other.current_, 0)),
      pending_error_(std::exchange(other.pending_error_, 0)),
      copy_buf_(std::move(other.copy_buf_)),
      batch_(std::move(other.batch_)),
      batch_offsets_(std::move(other.batch_offsets_)),
      batch_sizes_(std::move(other.batch_sizes_)),
      tx_timestamps_(other.tx_timestamps_),
      tx_next_id_(other.tx_next_id_) {}

packet_socket& packet_socket::operator=(packet_socket&& other) noexcept {
  if (this != &other) {
    close();
    opts_ = other.opts_;
    fd_ = std::exchange(other.fd_, -1);
    ignore_outgoing_ = other.ignore_outgoing_;
    ring_ = std::exchange(other.ring_, nullptr);
    ring_bytes_ = std::exchange(other.ring_bytes_, 0);
    frame_size_ = other.frame_size_;
    frames_per_block_ = other.frames_per_block_;
    block_size_ = other.block_size_;
    frame_count_ = std::exchange(other.frame_count_, 0);
    current_ = std::exchange(other.current_, 0);
    pending_error_ = std::exchange(other.pending_error_, 0);
    copy_buf_ = std::move(other.copy_buf_);
    batch_ = std::move(other.batch_);
    batch_offsets_ = std::move(other.batch_offsets_);
    batch_sizes_ = std::move(other.batch_sizes_);
    tx_timestamps_ = other.tx_timestamps_;
    tx_next_id_ = other.tx_next_id_;
  }
  return *this;
}

void packet_socket::close() noexcept {
  if (ring_ != nullptr) ::munmap(ring_, ring_bytes_);
  if (fd_ >= 0) ::close(fd_);
  ring_ = nullptr;
  fd_ = -1;
  frame_count_ = 0;
}

std::byte* packet_socket::slot_at(std::size_t index) const noexcept {
  return ring_ + (index / frames_per_block_) * block_size_ + (index % frames_per_block_) * frame_size_;
}

bool packet_socket::ready() const noexcept {
  if (frame_count_ == 0) return false;
  std::byte* slot = slot_at(current_);
  return (load_status(header_at(slot)) & TP_STATUS_USER) != 0;
}

bool packet_socket::next(rx_frame& frame) noexcept {
  while (frame_count_ != 0) {
    std::byte* slot = slot_at(current_);
    tpacket2_hdr* h = header_at(slot);
    std::uint32_t status = load_status(h);
    if ((status & TP_STATUS_USER) == 0) return false;
    if (!ignore_outgoing_) {  // trap 5 fallback: the address follows the aligned header
      const auto* sll = reinterpret_cast<const sockaddr_ll*>(slot + TPACKET_ALIGN(sizeof(tpacket2_hdr)));
      if (sll->sll_pkttype == PACKET_OUTGOING) {
        if ((status & TP_STATUS_COPY) != 0 && !copy_buf_.empty())  // its copy is queued too: drop it
          (void)::recv(fd_, copy_buf_.data(), copy_buf_.size(), MSG_DONTWAIT | MSG_TRUNC);
        release_current();
        continue;
      }
    }
    frame.data = {slot + h->tp_mac, h->tp_snaplen};
    frame.original_length = h->tp_len;
    if (opts_.l3) {
      // PACKET_RESERVE left room before tp_mac (past the sockaddr_ll) for the synthetic header.
      if (h->tp_mac < TPACKET2_HDRLEN + eth_header || h->tp_snaplen == 0) {
        release_current();
        continue;
      }
      detail::put_synthetic_header(slot + h->tp_mac - eth_header, slot[h->tp_mac]);
      frame.data = {slot + h->tp_mac - eth_header, h->tp_snaplen + eth_header};
      frame.original_length = h->tp_len + eth_header;
    }
    frame.checksum_unverified = (status & TP_STATUS_CSUMNOTREADY) != 0;
    frame.checksum_valid = (status & TP_STATUS_CSUM_VALID) != 0;
    frame.truncated = h->tp_snaplen < h->tp_len || (status & TP_STATUS_COPY) != 0;
    if ((status & TP_STATUS_COPY) != 0 && !copy_buf_.empty()) {
      // The whole frame waits on the receive queue; only TP_STATUS_COPY slots put one there, so
      // the queue's head is this slot's frame.
      const std::size_t head = opts_.l3 ? eth_header : 0;
      ssize_t n = ::recv(fd_, copy_buf_.data() + head, copy_buf_.size() - head, MSG_DONTWAIT | MSG_TRUNC);
      if (n > 0 && static_cast<std::size_t>(n) <= copy_buf_.size() - head &&
          static_cast<std::size_t>(n) >= h->tp_len) {
        if (opts_.l3) detail::put_synthetic_header(copy_buf_.data(), copy_buf_[head]);
        frame.data = {copy_buf_.data(), static_cast<std::size_t>(n) + head};
        frame.truncated = false;
      }
    }
    frame.gso_tcp = (status & TP_STATUS_GSO_TCP) != 0;
    frame.losing = (status & TP_STATUS_LOSING) != 0;
    frame.vlan_valid = (status & TP_STATUS_VLAN_VALID) != 0;
    frame.vlan_tci = frame.vlan_valid ? h->tp_vlan_tci : std::uint16_t{0};
    frame.vlan_tpid = !frame.vlan_valid                            ? std::uint16_t{0}
                      : (status & TP_STATUS_VLAN_TPID_VALID) != 0 ? h->tp_vlan_tpid
                                                                   : std::uint16_t{0x8100};
    frame.kernel_timestamp = std::chrono::seconds(h->tp_sec) + std::chrono::nanoseconds(h->tp_nsec);
    return true;
  }
  return false;
}

void packet_socket::release_current() noexcept {
  std::byte* slot = slot_at(current_);
  std::atomic_ref<std::uint32_t>(header_at(slot)->tp_status).store(TP_STATUS_KERNEL, std::memory_order_release);
  current_ = (current_ + 1) % frame_count_;
}

bool packet_socket::wait_readable(std::chrono::nanoseconds timeout) {
  if (ready()) return true;
  if (timeout < std::chrono::nanoseconds::zero()) timeout = {};
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{static_cast<time_t>(secs.count()), static_cast<long>((timeout - secs).count())};
  pollfd pfd{fd_, POLLIN, 0};
  int n = ::ppoll(&pfd, 1, &ts, nullptr);
  if (n <= 0) return false;  // timeout, EINTR (the caller checks its signal flag) or EBADF
  if ((pfd.revents & POLLERR) != 0) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);  // reading clears it
    if (err != 0) pending_error_ = err;
    return true;
  }
  return (pfd.revents & POLLIN) != 0;
}

std::error_code packet_socket::take_error() noexcept {
  return {std::exchange(pending_error_, 0), std::system_category()};
}

std::error_code packet_socket::send(std::span<const std::byte> frame) noexcept {
  if (frame.size() < eth_header) return std::make_error_code(std::errc::invalid_argument);
  sockaddr_ll addr = destination_of(frame, opts_.ifindex, opts_.l3);
  const auto out = wire_part(frame, opts_.l3);
  ssize_t n = ::sendto(fd_, out.data(), out.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&addr),
                       sizeof addr);
  if (n < 0) return {errno, std::system_category()};
  ++tx_next_id_;
  return {};
}

bool packet_socket::next_tx_timestamp(std::uint32_t& id, std::chrono::nanoseconds& at) noexcept {
  alignas(cmsghdr) char control[256];
  while (true) {
    msghdr msg{};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(fd_, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return false;
    std::optional<std::chrono::nanoseconds> ts;
    std::optional<std::uint32_t> key;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
        scm_timestamping t{};
        std::memcpy(&t, CMSG_DATA(c), sizeof t);
        if (t.ts[0].tv_sec != 0 || t.ts[0].tv_nsec != 0)
          ts = std::chrono::seconds(t.ts[0].tv_sec) + std::chrono::nanoseconds(t.ts[0].tv_nsec);
      } else if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_TX_TIMESTAMP) {
        sock_extended_err e{};
        std::memcpy(&e, CMSG_DATA(c), sizeof e);
        if (e.ee_errno == ENOMSG && e.ee_origin == SO_EE_ORIGIN_TIMESTAMPING && e.ee_info == SCM_TSTAMP_SND)
          key = e.ee_data;
      }
    }
    if (ts && key) {
      id = *key;
      at = *ts;
      return true;
    }
    // Not a software transmit report (another kind, or an unrelated error): skip it.
  }
}

std::error_code packet_socket::queue(std::span<const std::byte> frame) {
  if (frame.size() < eth_header) return std::make_error_code(std::errc::invalid_argument);
  std::error_code ec;
  if (batch_offsets_.size() == max_batch) ec = flush();
  batch_offsets_.push_back(batch_.size());
  batch_sizes_.push_back(frame.size());
  batch_.insert(batch_.end(), frame.begin(), frame.end());
  return ec;
}

std::error_code packet_socket::flush(std::size_t* sent_out) noexcept {
  std::size_t count = batch_offsets_.size();
  mmsghdr msgs[max_batch];
  iovec iov[max_batch];
  sockaddr_ll addrs[max_batch];
  for (std::size_t i = 0; i < count; ++i) {
    std::span<const std::byte> frame{batch_.data() + batch_offsets_[i], batch_sizes_[i]};
    addrs[i] = destination_of(frame, opts_.ifindex, opts_.l3);
    const auto out = wire_part(frame, opts_.l3);
    iov[i] = {const_cast<std::byte*>(out.data()), out.size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_name = &addrs[i];
    msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  std::error_code ec;
  std::size_t sent = 0;
  std::size_t tried = 0;
  while (tried < count) {
    int n = ::sendmmsg(fd_, msgs + tried, static_cast<unsigned>(count - tried), MSG_DONTWAIT);
    if (n <= 0) {
      if (!ec) ec = {n < 0 ? errno : EAGAIN, std::system_category()};
      if (!opts_.tx_keep_going) break;
      ++tried;  // drop the frame that failed, go on with the next
      continue;
    }
    sent += static_cast<std::size_t>(n);
    tried += static_cast<std::size_t>(n);
    tx_next_id_ += static_cast<std::uint32_t>(n);
  }
  if (sent_out != nullptr) *sent_out = sent;
  batch_.clear();
  batch_offsets_.clear();
  batch_sizes_.clear();
  return ec;
}

packet_stats packet_socket::stats() noexcept {
  tpacket_stats st{};
  socklen_t len = sizeof st;
  if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return {};
  // tp_packets counts every frame that passed the filter, including those dropped.
  return {st.tp_packets, st.tp_drops};
}

}  // namespace synack::link
