// The Asio front end of synack in one include: stack, socket, acceptor, options, errors, range
// connect and the Beast customisation points.
#pragma once

#include "synack/asio/acceptor.hpp"
#include "synack/asio/address.hpp"
#include "synack/asio/beast.hpp"
#include "synack/asio/connect.hpp"
#include "synack/asio/error.hpp"
#include "synack/asio/socket.hpp"
#include "synack/asio/socket_option.hpp"
#include "synack/asio/stack.hpp"
