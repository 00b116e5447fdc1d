// repy6 — REPY6_API, the mark on everything a shared librepy6 exports.
//
// The library is compiled with hidden visibility, so a shared librepy6 exports only the
// classes and functions marked REPY6_API: the public API, the exception classes among
// them (one type_info for each, so a `catch (const repy::NetworkError&)` in a program
// matches what the library throws). Policy marks its public members one by one, since
// its private constructor takes a repy::detail type. Nothing of repy::detail, Boost or
// fmt leaves the library (cmake/repy6.map also hides what Boost marks visible itself).
//
// A static build defines REPY6_STATIC, for the library and for everything that links it
// (CMake's repy6::repy6 and pkg-config's Cflags carry it): the mark is empty then, so a
// shared library that links librepy6.a in does not re-export repy6's API.
#pragma once

#if defined(REPY6_STATIC)
#define REPY6_API
#else
#define REPY6_API __attribute__((visibility("default")))
#endif
