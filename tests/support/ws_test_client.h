// WsTestClient: a minimal WebSocket client for tests of WebSocket servers
// (the simulator's feed), independent of tradelake's own WsFeed. Every call
// is bounded in time: it runs the I/O for at most the given timeout and then
// gives up (the connection is closed), so a test can never hang.
// Not thread-safe; one thread per client.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace tradelake::testing {

class WsTestClient {
 public:
  // Connects and does the WebSocket handshake to ws://127.0.0.1:port/.
  // receive_buffer_bytes > 0 sets SO_RCVBUF (a slow consumer's small window).
  bool Connect(int port, std::chrono::milliseconds timeout, int receive_buffer_bytes = 0) {
    namespace net = boost::asio;
    bool ok = false;
    ws_.emplace(ioc_);
    auto& sock = boost::beast::get_lowest_layer(*ws_).socket();
    boost::system::error_code ec;
    sock.open(net::ip::tcp::v4(), ec);
    if (receive_buffer_bytes > 0) sock.set_option(net::socket_base::receive_buffer_size(receive_buffer_bytes), ec);
    const net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
    boost::beast::get_lowest_layer(*ws_).async_connect(ep, [&](boost::system::error_code e) {
      if (e) return;
      boost::beast::websocket::permessage_deflate d;
      d.client_enable = true;
      ws_->set_option(d);
      ws_->async_handshake("127.0.0.1", "/", [&](boost::system::error_code e2) { ok = !e2; });
    });
    Run(timeout);
    return ok;
  }

  bool Send(const std::string& text, std::chrono::milliseconds timeout) {
    bool ok = false;
    ws_->text(true);
    ws_->async_write(boost::asio::buffer(text), [&](boost::system::error_code ec, size_t) { ok = !ec; });
    Run(timeout);
    return ok;
  }

  // The next message, or nullopt when the connection is closed or nothing
  // arrived within `timeout` (then the connection is closed too).
  std::optional<std::string> Read(std::chrono::milliseconds timeout) {
    if (!ws_ || closed_) return std::nullopt;
    std::optional<std::string> out;
    bool done = false;
    buffer_.clear();
    ws_->async_read(buffer_, [&](boost::system::error_code ec, size_t) {
      done = true;
      if (!ec) out = boost::beast::buffers_to_string(buffer_.data());
    });
    Run(timeout);
    if (!done) {
      boost::beast::get_lowest_layer(*ws_).close();
      Run(timeout);  // let the cancelled read finish
    }
    if (!out) closed_ = true;
    return out;
  }

  bool closed() const { return closed_; }

 private:
  void Run(std::chrono::milliseconds timeout) {
    ioc_.restart();
    ioc_.run_for(timeout);
  }

  boost::asio::io_context ioc_;
  std::optional<boost::beast::websocket::stream<boost::beast::tcp_stream>> ws_;
  boost::beast::flat_buffer buffer_;
  bool closed_ = false;
};

}  // namespace tradelake::testing
