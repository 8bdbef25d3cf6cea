#pragma once
// The ward::error family. Library code reports bad input by throwing one of these,
// with a message that names what is wrong and where (shapes, file and line, tensor name).

#include <stdexcept>
#include <string>

namespace ward {

/// Base of every exception the library throws.
class error : public std::runtime_error {
public:
    explicit error(const std::string& what) : std::runtime_error(what) {}
};

/// Operand shapes do not fit the operation (mismatch, bad rank, non-broadcastable).
class shape_error : public error {
public:
    using error::error;
};

/// An index or axis lies outside the tensor.
class index_error : public error {
public:
    using error::error;
};

/// Operands live on different devices, or a device is unavailable.
class device_error : public error {
public:
    using error::error;
};

/// An element type is not the one expected (e.g. a file stores f16 where f32 is asked).
class dtype_error : public error {
public:
    using error::error;
};

/// A value is invalid: NaN or infinite loss, out-of-range hyper-parameter, bad option.
class value_error : public error {
public:
    using error::error;
};

/// Reading or writing a file failed.
class io_error : public error {
public:
    using error::error;
};

/// A file or text is malformed; the message names the file and, where known, line and column.
class parse_error : public error {
public:
    using error::error;
};

/// A third-party backend (oneDNN, CUDA, cuBLAS) reported a failure.
class backend_error : public error {
public:
    using error::error;
};

}  // namespace ward
