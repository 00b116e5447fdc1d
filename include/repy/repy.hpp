// repy6 — the Repy V2 IPv6 network API for C++. This header brings in all of it.
#pragma once

#include "repy/api.hpp"
#include "repy/context.hpp"
#include "repy/errors.hpp"
#include "repy/policy.hpp"
#include "repy/sockets.hpp"
#include "repy/stack.hpp"
#include "repy/version.hpp"
