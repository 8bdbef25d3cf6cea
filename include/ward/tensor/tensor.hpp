#pragma once
// Tensor<T, Device>: a strided view of reference-counted storage. Copies of a Tensor share memory
// (like a PyTorch tensor handle); views (slice, transpose, permute, expand, reshape where the
// strides allow) never copy. A Tensor is also the leaf of every element-wise expression.

#include <algorithm>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "ward/core/config.hpp"
#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"
#include "ward/tensor/expr_base.hpp"
#include "ward/tensor/storage.hpp"

namespace ward {

/// Reads stored elements of type S as compute type V through (base pointer, strides).
template <class S>
struct LeafEval {
    using value_type = compute_t<S>;
    const S* data;
    const S* base;
    index_t inner;
    index_t st[max_rank];

    WARD_HOST_DEVICE void seek(const index_t* idx, int outer) {
        base = data + row_offset(idx, st, outer);
        inner = st[outer];
    }
    template <bool Unit>
    WARD_HOST_DEVICE value_type load(index_t j) const {
        return element_cast<value_type>(Unit ? base[j] : base[j * inner]);
    }
    template <class F>
    void for_each_strides(F&& f) { f(st); }
};

template <class V>
struct ScalarEval {
    using value_type = V;
    V value;
    WARD_HOST_DEVICE void seek(const index_t*, int) {}
    template <bool Unit>
    WARD_HOST_DEVICE V load(index_t) const { return value; }
    template <class F>
    void for_each_strides(F&&) {}
};

template <Element T, Device D = cpu>
class Tensor : public Expr<Tensor<T, D>> {
public:
    using element_type = T;
    using value_type = compute_t<T>;
    using device = D;

    /// An undefined tensor (no storage); defined() is false.
    Tensor() = default;

    /// A zero-filled tensor of the given shape.
    explicit Tensor(const Shape& shape) : Tensor(empty(shape)) { fill(value_type(0)); }

    /// Evaluates an expression into new contiguous memory (one pass).
    template <Expression E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, Tensor>)
    Tensor(const E& e) : Tensor(empty(e.shape())) {  // NOLINT: implicit on purpose, like Eigen
        static_assert(std::is_same_v<device_t<E>, D>, "ward: expression and tensor are on different devices");
        Executor<D>::assign(view(), e.evaluator(shape_));
    }

    /// Rebinds this handle to the result of an expression (evaluated first, so `a = a * 2` is safe).
    template <Expression E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, Tensor>)
    Tensor& operator=(const E& e) {
        Tensor result(e);
        *this = std::move(result);
        return *this;
    }
    Tensor(const Tensor&) = default;
    Tensor(Tensor&&) noexcept = default;
    Tensor& operator=(const Tensor&) = default;
    Tensor& operator=(Tensor&&) noexcept = default;

    // ---- factories -------------------------------------------------------------------------
    /// Uninitialised contiguous memory of the given shape.
    static Tensor empty(const Shape& shape) {
        for (int i = 0; i < shape.rank; ++i)
            if (shape[i] < 0) throw shape_error("negative extent in shape " + shape.str());
        Tensor t;
        t.storage_ = std::make_shared<Storage<T, D>>(static_cast<std::size_t>(shape.numel()));
        t.shape_ = shape;
        t.strides_ = contiguous_strides(shape);
        return t;
    }
    static Tensor zeros(const Shape& shape) { return Tensor(shape); }
    static Tensor full(const Shape& shape, value_type v) {
        Tensor t = empty(shape);
        t.fill(v);
        return t;
    }
    static Tensor ones(const Shape& shape) { return full(shape, value_type(1)); }
    /// Copies host values (row-major) into a new tensor; values.size() must equal shape.numel().
    static Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
        if (static_cast<index_t>(values.size()) != shape.numel())
            throw shape_error("from_vector: " + std::to_string(values.size()) + " values for shape " + shape.str() +
                              " (" + std::to_string(shape.numel()) + " elements)");
        Tensor t = empty(shape);
        DeviceMemory<D>::from_host(t.data(), values.data(), values.size() * sizeof(T));
        return t;
    }
    /// 0, 1, ..., n-1 as a rank-1 tensor.
    static Tensor arange(index_t n) {
        std::vector<T> v(static_cast<std::size_t>(n));
        for (index_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = element_cast<T>(static_cast<double>(i));
        return from_vector(v, Shape{n});
    }

    // ---- shape -----------------------------------------------------------------------------
    bool defined() const { return storage_ != nullptr || shape_.numel() == 0; }
    const Shape& shape() const { return shape_; }
    const Strides& strides() const { return strides_; }
    /// The stride of one axis, in elements (negative axes count from the end).
    index_t stride(int axis) const { return strides_[shape_.axis(axis)]; }
    int rank() const { return shape_.rank; }
    index_t numel() const { return shape_.numel(); }
    index_t size(int axis) const { return shape_[shape_.axis(axis)]; }
    index_t offset() const { return offset_; }
    bool is_contiguous() const { return ward::is_contiguous(shape_, strides_); }
    /// The storage this tensor views (shared by all its views).
    const StoragePtr<T, D>& storage() const { return storage_; }

    T* data() const { return storage_ ? storage_->data() + offset_ : nullptr; }
    StridedView<T> view() const { return {data(), shape_, strides_}; }
    StridedView<const T> cview() const { return {data(), shape_, strides_}; }

    // ---- views (no copies) -----------------------------------------------------------------
    /// Elements start, start+step, ... < stop along `axis`; negative start/stop count from the end.
    Tensor slice(int axis, index_t start, index_t stop, index_t step = 1) const {
        int a = shape_.axis(axis);
        index_t n = shape_[a];
        if (step <= 0) throw index_error("slice: step must be positive, got " + std::to_string(step));
        if (start < 0) start += n;
        if (stop < 0) stop += n;
        stop = std::min(stop, n);
        if (start < 0 || start > n || stop < start)
            throw index_error("slice [" + std::to_string(start) + ", " + std::to_string(stop) + ") out of range for axis " +
                              std::to_string(axis) + " of shape " + shape_.str());
        Tensor t = *this;
        t.offset_ += start * strides_[a];
        t.shape_[a] = (stop - start + step - 1) / step;
        t.strides_[a] *= step;
        return t;
    }
    /// The sub-tensor at `index` along `axis` (that axis is dropped).
    Tensor select(int axis, index_t index) const {
        int a = shape_.axis(axis);
        if (index < 0) index += shape_[a];
        if (index < 0 || index >= shape_[a])
            throw index_error("index " + std::to_string(index) + " out of range for axis " + std::to_string(axis) +
                              " of shape " + shape_.str());
        Tensor t = *this;
        t.offset_ += index * strides_[a];
        t.drop_axis(a);
        return t;
    }
    Tensor operator[](index_t index) const { return select(0, index); }

    /// Reorders axes: result axis i is this tensor's axis order[i].
    Tensor permute(std::initializer_list<int> order) const { return permute(std::vector<int>(order)); }
    Tensor permute(const std::vector<int>& order) const {
        if (static_cast<int>(order.size()) != rank())
            throw shape_error("permute: " + std::to_string(order.size()) + " axes given for shape " + shape_.str());
        Tensor t = *this;
        std::array<bool, max_rank> seen{};
        for (int i = 0; i < rank(); ++i) {
            int a = shape_.axis(order[static_cast<std::size_t>(i)]);
            if (seen[a]) throw shape_error("permute: axis " + std::to_string(a) + " repeated");
            seen[a] = true;
            t.shape_[i] = shape_[a];
            t.strides_[i] = strides_[a];
        }
        return t;
    }
    /// Swaps two axes (by default the last two: a matrix transpose, as strides).
    Tensor transpose(int a = -2, int b = -1) const {
        int x = shape_.axis(a), y = shape_.axis(b);
        Tensor t = *this;
        std::swap(t.shape_[x], t.shape_[y]);
        std::swap(t.strides_[x], t.strides_[y]);
        return t;
    }
    /// Broadcasts to a larger shape with stride-0 axes (NumPy rules); no memory is copied.
    Tensor expand(const Shape& to) const {
        Tensor t = *this;
        t.strides_ = broadcast_strides(shape_, strides_, to);
        t.shape_ = to;
        return t;
    }
    Tensor unsqueeze(int axis) const {
        int a = axis < 0 ? axis + rank() + 1 : axis;
        if (a < 0 || a > rank() || rank() == max_rank)
            throw index_error("unsqueeze: axis " + std::to_string(axis) + " invalid for shape " + shape_.str());
        Tensor t = *this;
        t.shape_.rank = t.strides_.rank = rank() + 1;
        for (int i = rank(); i > a; --i) {
            t.shape_[i] = shape_[i - 1];
            t.strides_[i] = strides_[i - 1];
        }
        t.shape_[a] = 1;
        t.strides_[a] = a + 1 < t.rank() ? t.shape_[a + 1] * t.strides_[a + 1] : 1;
        return t;
    }
    Tensor squeeze(int axis) const {
        int a = shape_.axis(axis);
        if (shape_[a] != 1)
            throw shape_error("squeeze: axis " + std::to_string(axis) + " of shape " + shape_.str() + " is not 1");
        Tensor t = *this;
        t.drop_axis(a);
        return t;
    }
    /// A view with a new shape (one extent may be -1). Throws when the strides do not allow a view;
    /// reshape() copies in that case.
    Tensor view_as(Shape to) const {
        to = infer_shape(to);
        Strides st;
        if (!view_strides(to, st))
            throw shape_error("view_as: shape " + shape_.str() + " with strides " + strides_.str() +
                              " cannot be viewed as " + to.str() + " without a copy (use reshape)");
        Tensor t = *this;
        t.shape_ = to;
        t.strides_ = st;
        return t;
    }
    /// view_as() where the strides allow it, otherwise a contiguous copy with the new shape.
    Tensor reshape(Shape to) const {
        to = infer_shape(to);
        Strides st;
        if (view_strides(to, st)) {
            Tensor t = *this;
            t.shape_ = to;
            t.strides_ = st;
            return t;
        }
        return contiguous().view_as(to);
    }
    Tensor flatten() const { return reshape(Shape{numel()}); }

    /// This tensor if it is already dense row-major, else a contiguous copy.
    Tensor contiguous() const { return is_contiguous() ? *this : clone(); }
    /// A contiguous copy that shares nothing with this tensor.
    Tensor clone() const {
        Tensor t = empty(shape_);
        Executor<D>::assign(t.view(), evaluator(shape_));
        return t;
    }

    // ---- in-place writes -------------------------------------------------------------------
    /// Evaluates `e` (broadcast to this shape) into this tensor's memory, through its strides.
    /// Safe when `e` reads this memory too: a conflicting read goes through a temporary.
    template <Expression E>
    Tensor& assign(const E& e) {
        static_assert(std::is_same_v<device_t<E>, D>, "ward: expression and tensor are on different devices");
        if (!(broadcast_shapes(e.shape(), shape_) == shape_))
            throw shape_error("assign: expression of shape " + e.shape().str() + " does not broadcast to " + shape_.str());
        if (e.conflicts(storage_.get(), offset_, shape_, strides_)) {
            Tensor<value_t<E>, D> tmp(e);
            Executor<D>::assign(view(), tmp.evaluator(shape_));
        } else {
            Executor<D>::assign(view(), e.evaluator(shape_));
        }
        return *this;
    }
    Tensor& fill(value_type v) {
        Executor<D>::assign(view(), ScalarEval<value_type>{v});
        return *this;
    }

    // ---- element access (host) ---------------------------------------------------------------
    /// Bounds-checked element reference (CPU tensors).
    T& at(std::initializer_list<index_t> idx) const
        requires std::is_same_v<D, cpu>
    {
        return data()[element_offset(idx)];
    }
    template <std::integral... I>
    T& operator()(I... i) const
        requires std::is_same_v<D, cpu>
    {
        return at({static_cast<index_t>(i)...});
    }
    /// The single element of a one-element tensor, copied to the host.
    value_type item() const {
        if (numel() != 1) throw shape_error("item: tensor of shape " + shape_.str() + " has " + std::to_string(numel()) + " elements");
        T v;
        DeviceMemory<D>::to_host(&v, data(), sizeof(T));
        return element_cast<value_type>(v);
    }
    /// All elements, row-major, copied to the host.
    std::vector<T> to_vector() const {
        Tensor c = contiguous();
        std::vector<T> v(static_cast<std::size_t>(numel()));
        DeviceMemory<D>::to_host(v.data(), c.data(), v.size() * sizeof(T));
        return v;
    }

    /// A copy on another device (same element type).
    template <Device D2>
    Tensor<T, D2> to() const {
        if constexpr (std::is_same_v<D, D2>) {
            return clone();
        } else {
            Tensor c = contiguous();
            auto out = Tensor<T, D2>::empty(shape_);
            std::size_t bytes = static_cast<std::size_t>(numel()) * sizeof(T);
            if constexpr (std::is_same_v<D, cpu>) DeviceMemory<D2>::from_host(out.data(), c.data(), bytes);
            else if constexpr (std::is_same_v<D2, cpu>) DeviceMemory<D>::to_host(out.data(), c.data(), bytes);
            else static_assert(std::is_same_v<D, cpu> || std::is_same_v<D2, cpu>, "ward: copy through the host");
            return out;
        }
    }

    // ---- expression leaf -----------------------------------------------------------------
    LeafEval<T> evaluator(const Shape& out) const {
        LeafEval<T> ev{};
        ev.data = ev.base = data();
        ev.inner = 0;
        Strides st = broadcast_strides(shape_, strides_, out);
        for (int i = 0; i < max_rank; ++i) ev.st[i] = i < st.rank ? st[i] : 0;
        return ev;
    }
    bool conflicts(const void* p, index_t off, const Shape& shape, const Strides& strides) const {
        if (p == nullptr || p != static_cast<const void*>(storage_.get())) return false;
        return !(off == offset_ && broadcast_strides(shape_, strides_, shape) == strides);
    }

private:
    StoragePtr<T, D> storage_;
    index_t offset_ = 0;
    Shape shape_;
    Strides strides_;

    void drop_axis(int a) {
        for (int i = a; i + 1 < rank(); ++i) {
            shape_[i] = shape_[i + 1];
            strides_[i] = strides_[i + 1];
        }
        --shape_.rank;
        --strides_.rank;
    }
    index_t element_offset(std::initializer_list<index_t> idx) const {
        if (static_cast<int>(idx.size()) != rank())
            throw index_error(std::to_string(idx.size()) + " indices for tensor of shape " + shape_.str());
        index_t off = 0;
        int d = 0;
        for (index_t i : idx) {
            if (i < 0 || i >= shape_[d])
                throw index_error("index " + std::to_string(i) + " out of range for axis " + std::to_string(d) +
                                  " of shape " + shape_.str());
            off += i * strides_[d++];
        }
        return off;
    }
    Shape infer_shape(Shape to) const {
        int unknown = -1;
        index_t known = 1;
        for (int i = 0; i < to.rank; ++i) {
            if (to[i] == -1) {
                if (unknown >= 0) throw shape_error("reshape: more than one -1 in " + to.str());
                unknown = i;
            } else if (to[i] < 0) {
                throw shape_error("reshape: negative extent in " + to.str());
            } else {
                known *= to[i];
            }
        }
        if (unknown >= 0) {
            if (known == 0 || numel() % known != 0)
                throw shape_error("reshape: cannot infer -1 in " + to.str() + " for " + std::to_string(numel()) + " elements");
            to[unknown] = numel() / known;
        }
        if (to.numel() != numel())
            throw shape_error("reshape: shape " + shape_.str() + " (" + std::to_string(numel()) + " elements) cannot become " +
                              to.str());
        return to;
    }
    /// Strides for viewing this tensor with shape `to`, when possible without a copy: each run of
    /// old axes that is contiguous within itself can be split or merged freely.
    bool view_strides(const Shape& to, Strides& out) const {
        out = Strides::of_rank(to.rank);
        if (numel() == 0) {
            out = contiguous_strides(to);
            return true;
        }
        int old_d = rank() - 1, new_d = to.rank - 1;
        for (;;) {
            while (old_d >= 0 && shape_[old_d] == 1) --old_d;
            while (new_d >= 0 && to[new_d] == 1) out[new_d--] = 1;
            if (old_d < 0 || new_d < 0) break;
            // A maximal run of old axes that is contiguous within itself (size-1 axes do not break it).
            index_t stride = strides_[old_d], chunk = shape_[old_d];
            int d = old_d - 1;
            for (; d >= 0; --d) {
                if (shape_[d] == 1) continue;
                if (strides_[d] != stride * chunk) break;
                chunk *= shape_[d];
            }
            old_d = d;
            // New axes that multiply up to exactly that run take strides inside it.
            index_t acc = 1;
            while (new_d >= 0 && acc < chunk) {
                out[new_d] = stride * acc;
                acc *= to[new_d--];
            }
            if (acc != chunk) return false;
        }
        return old_d < 0 && new_d < 0;
    }
};

/// `t` on device D2: the same tensor where it already lives there, else a copy (for data laid out
/// on the host, such as batches of ids, handed to a model on either device).
template <Device D2, Element T, Device D>
Tensor<T, D2> on_device(const Tensor<T, D>& t) {
    if constexpr (std::is_same_v<D, D2>) return t;
    else return t.template to<D2>();
}

template <class X>
inline constexpr bool is_tensor_v = false;
template <class T, class D>
inline constexpr bool is_tensor_v<Tensor<T, D>> = true;

}  // namespace ward
