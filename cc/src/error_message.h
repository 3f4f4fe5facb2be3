// The one way checks in this library report a problem: a message, and false to return.
#ifndef BITLITE_SRC_ERROR_MESSAGE_H_
#define BITLITE_SRC_ERROR_MESSAGE_H_

#include <string>
#include <utility>

namespace bitlite {

inline bool Fail(std::string message, std::string* error) {
  *error = std::move(message);
  return false;
}

}  // namespace bitlite

#endif  // BITLITE_SRC_ERROR_MESSAGE_H_
