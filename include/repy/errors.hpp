// repy6 — Repy's exception hierarchy.
//
// Every error the library raises derives from RepyException, and through it from
// std::runtime_error. what() names the call, the argument and the value at fault.
#pragma once

#include <stdexcept>
#include <string>

#include "repy/export.hpp"

namespace repy {

/// Root of every error repy6 raises.
class REPY6_API RepyException : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An argument failed its sanity check (wrong type of value, out of range, malformed).
class REPY6_API RepyArgumentError : public RepyException {
 public:
  using RepyException::RepyException;
};

/// A blocking operation ran out of time (openconnection_ipv6's timeout).
class REPY6_API TimeoutError : public RepyException {
 public:
  using RepyException::RepyException;
};

/// Kept for parity with Repy; repy6 never raises it.
class REPY6_API CodeUnsafeError : public RepyException {
 public:
  using RepyException::RepyException;
};

/// Kept for parity with Repy; repy6 never raises it.
class REPY6_API ContextUnsafeError : public RepyException {
 public:
  using RepyException::RepyException;
};

/// Restrictions text that cannot be parsed; the message names the line.
class REPY6_API ResourceParseError : public RepyException {
 public:
  using RepyException::RepyException;
};

/// The policy stops the call.
class REPY6_API ResourceUsageError : public RepyException {
 public:
  using RepyException::RepyException;
};

/// A fungible resource (insockets, outsockets) is used up, or a rate limit is zero.
class REPY6_API ResourceExhaustedError : public ResourceUsageError {
 public:
  using ResourceUsageError::ResourceUsageError;
};

/// The policy forbids the port or local address.
class REPY6_API ResourceForbiddenError : public ResourceUsageError {
 public:
  using ResourceUsageError::ResourceUsageError;
};

/// File errors, kept for parity with Repy's hierarchy.
class REPY6_API FileError : public RepyException {
 public:
  using RepyException::RepyException;
};
class REPY6_API FileNotFoundError : public FileError {
 public:
  using FileError::FileError;
};
class REPY6_API FileInUseError : public FileError {
 public:
  using FileError::FileError;
};
class REPY6_API SeekPastEndOfFileError : public FileError {
 public:
  using FileError::FileError;
};
class REPY6_API FileClosedError : public FileError {
 public:
  using FileError::FileError;
};

/// Kept for parity with Repy's hierarchy.
class REPY6_API LockDoubleReleaseError : public RepyException {
 public:
  using RepyException::RepyException;
};

/// Parent of every network failure.
class REPY6_API NetworkError : public RepyException {
 public:
  using RepyException::RepyException;
};

/// A name that does not resolve to an IPv6 address.
class REPY6_API NetworkAddressError : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// A TCP listener (or, for UDP, a message listener) already holds the local address.
class REPY6_API AlreadyListeningError : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// Another socket already uses the local address or the whole 4-tuple.
class REPY6_API DuplicateTupleError : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// The 4-tuple is still being torn down (TIME_WAIT and friends).
class REPY6_API CleanupInProgressError : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// No route to the network, or the network is down.
class REPY6_API InternetConnectivityError : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// The local IP is not an address of this stack.
class REPY6_API AddressBindingError : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// Nobody listens at the destination.
class REPY6_API ConnectionRefusedError : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// The local IP changed under the socket; kept for parity with Repy.
class REPY6_API LocalIPChanged : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// The socket was closed on this side.
class REPY6_API SocketClosedLocal : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// The peer closed or reset the connection.
class REPY6_API SocketClosedRemote : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// Nothing can be done without blocking right now; try again later.
class REPY6_API SocketWouldBlockError : public NetworkError {
 public:
  using NetworkError::NetworkError;
};
/// The TCP server socket can no longer accept; kept for parity with Repy.
class REPY6_API TCPServerSocketInvalidError : public NetworkError {
 public:
  using NetworkError::NetworkError;
};

}  // namespace repy
