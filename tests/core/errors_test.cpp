// The Repy exception hierarchy of SPEC section 2, checked from the outside: every class
// exists, derives from the right parent (and through RepyException from
// std::runtime_error), can be caught by any ancestor, and keeps its what() text.
#include <gtest/gtest.h>

#include <exception>
#include <repy/repy.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace {

// Throws E and catches it as Base; returns the what() text seen through Base.
template <class E, class Base>
std::string caught_as(const std::string& text) {
  try {
    throw E(text);
  } catch (const Base& e) {
    return e.what();
  } catch (...) {
    return "<not caught by the expected base>";
  }
}

// Checks E's direct parent, its root and that a throw can be caught by each ancestor.
template <class E, class Parent>
void check_class(const char* name) {
  SCOPED_TRACE(name);
  EXPECT_TRUE((std::is_base_of_v<Parent, E>)) << name << " should derive from its parent";
  EXPECT_TRUE((std::is_base_of_v<repy::RepyException, E>));
  EXPECT_TRUE((std::is_base_of_v<std::runtime_error, E>));
  EXPECT_TRUE((std::is_base_of_v<std::exception, E>));
  EXPECT_TRUE((std::is_constructible_v<E, std::string>));
  EXPECT_TRUE((std::is_constructible_v<E, const char*>));
  const std::string text = std::string(name) + ": argument 'x' is bad (value 42)";
  EXPECT_EQ((caught_as<E, E>(text)), text);
  EXPECT_EQ((caught_as<E, Parent>(text)), text);
  EXPECT_EQ((caught_as<E, repy::RepyException>(text)), text);
  EXPECT_EQ((caught_as<E, std::runtime_error>(text)), text);
  EXPECT_EQ((caught_as<E, std::exception>(text)), text);
}

#define REPY_CHECK_CLASS(E, Parent) check_class<repy::E, Parent>(#E)

}  // namespace

TEST(errors_test, repy_exception_is_a_runtime_error) {
  EXPECT_TRUE((std::is_base_of_v<std::runtime_error, repy::RepyException>));
  const std::string text = "root message";
  EXPECT_EQ((caught_as<repy::RepyException, std::exception>(text)), text);
}

TEST(errors_test, direct_children_of_repy_exception) {
  using repy::RepyException;
  REPY_CHECK_CLASS(RepyArgumentError, RepyException);
  REPY_CHECK_CLASS(TimeoutError, RepyException);
  REPY_CHECK_CLASS(CodeUnsafeError, RepyException);
  REPY_CHECK_CLASS(ContextUnsafeError, RepyException);
  REPY_CHECK_CLASS(ResourceParseError, RepyException);
  REPY_CHECK_CLASS(ResourceUsageError, RepyException);
  REPY_CHECK_CLASS(FileError, RepyException);
  REPY_CHECK_CLASS(LockDoubleReleaseError, RepyException);
  REPY_CHECK_CLASS(NetworkError, RepyException);
}

TEST(errors_test, resource_usage_errors) {
  using repy::ResourceUsageError;
  REPY_CHECK_CLASS(ResourceExhaustedError, ResourceUsageError);
  REPY_CHECK_CLASS(ResourceForbiddenError, ResourceUsageError);
}

TEST(errors_test, file_errors) {
  using repy::FileError;
  REPY_CHECK_CLASS(FileNotFoundError, FileError);
  REPY_CHECK_CLASS(FileInUseError, FileError);
  REPY_CHECK_CLASS(SeekPastEndOfFileError, FileError);
  REPY_CHECK_CLASS(FileClosedError, FileError);
}

TEST(errors_test, network_errors) {
  using repy::NetworkError;
  REPY_CHECK_CLASS(NetworkAddressError, NetworkError);
  REPY_CHECK_CLASS(AlreadyListeningError, NetworkError);
  REPY_CHECK_CLASS(DuplicateTupleError, NetworkError);
  REPY_CHECK_CLASS(CleanupInProgressError, NetworkError);
  REPY_CHECK_CLASS(InternetConnectivityError, NetworkError);
  REPY_CHECK_CLASS(AddressBindingError, NetworkError);
  REPY_CHECK_CLASS(ConnectionRefusedError, NetworkError);
  REPY_CHECK_CLASS(LocalIPChanged, NetworkError);
  REPY_CHECK_CLASS(SocketClosedLocal, NetworkError);
  REPY_CHECK_CLASS(SocketClosedRemote, NetworkError);
  REPY_CHECK_CLASS(SocketWouldBlockError, NetworkError);
  REPY_CHECK_CLASS(TCPServerSocketInvalidError, NetworkError);
}

// Siblings must not be mistaken for each other: a handler for one network error must
// not swallow another, nor a usage error a network error.
TEST(errors_test, siblings_are_distinct) {
  EXPECT_FALSE((std::is_base_of_v<repy::NetworkError, repy::ResourceUsageError>));
  EXPECT_FALSE((std::is_base_of_v<repy::ResourceUsageError, repy::NetworkError>));
  EXPECT_FALSE((std::is_base_of_v<repy::SocketClosedLocal, repy::SocketClosedRemote>));
  EXPECT_FALSE((std::is_base_of_v<repy::SocketClosedRemote, repy::SocketClosedLocal>));
  EXPECT_FALSE((std::is_base_of_v<repy::ResourceExhaustedError, repy::ResourceForbiddenError>));
  EXPECT_FALSE((std::is_base_of_v<repy::NetworkError, repy::TimeoutError>));
  EXPECT_FALSE((std::is_base_of_v<repy::NetworkError, repy::RepyArgumentError>));
  bool wrong_handler = false;
  try {
    throw repy::SocketClosedRemote("peer went away");
  } catch (const repy::SocketClosedLocal&) {
    wrong_handler = true;
  } catch (const repy::NetworkError& e) {
    EXPECT_STREQ(e.what(), "peer went away");
  }
  EXPECT_FALSE(wrong_handler);
}
