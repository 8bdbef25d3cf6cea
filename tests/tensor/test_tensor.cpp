// Tensor storage and views: slices, transposes, permutes, reshapes (view or copy), expand,
// squeeze/unsqueeze, contiguous(), element access and the errors for bad indices.
#include <boost/test/unit_test.hpp>

#include "tensor/reference.hpp"

using namespace ward;

BOOST_AUTO_TEST_SUITE(tensor_tensor)

BOOST_AUTO_TEST_CASE(factories_and_element_access) {
    auto z = Tensor<double>::zeros({2, 3});
    BOOST_TEST(z.numel() == 6);
    BOOST_TEST(z(1, 2) == 0.0);
    auto f = Tensor<float>::full({2, 2}, 3.5f);
    BOOST_TEST(f(1, 1) == 3.5f);
    auto a = Tensor<double>::arange(6).reshape({2, 3});
    BOOST_TEST(a(1, 0) == 3.0);
    a(1, 0) = 42;
    BOOST_TEST(a.to_vector()[3] == 42.0);
    BOOST_CHECK_THROW(a(2, 0), index_error);
    BOOST_CHECK_THROW(a(0), index_error);
    BOOST_CHECK_THROW(Tensor<float>::from_vector({1, 2, 3}, {2, 2}), shape_error);
    BOOST_TEST(Tensor<float>::full({}, 2.0f).item() == 2.0f);
    BOOST_CHECK_THROW(a.item(), shape_error);
}

BOOST_AUTO_TEST_CASE(views_share_memory) {
    auto a = Tensor<double>::arange(24).reshape({2, 3, 4});
    auto s = a.slice(2, 1, 3);  // (2, 3, 2)
    BOOST_TEST((s.shape() == Shape{2, 3, 2}));
    BOOST_TEST(s(1, 2, 1) == a(1, 2, 2));
    s(0, 0, 0) = -1;
    BOOST_TEST(a(0, 0, 1) == -1.0);
    BOOST_TEST(s.storage() == a.storage());
    auto sel = a.select(1, 2);  // (2, 4)
    BOOST_TEST(sel(1, 3) == a(1, 2, 3));
    BOOST_TEST(a[1](0, 0) == a(1, 0, 0));
    auto neg = a.slice(0, -1, 2);
    BOOST_TEST(neg.size(0) == 1);
    BOOST_TEST(neg(0, 0, 0) == a(1, 0, 0));
    auto stepped = a.slice(2, 0, 4, 3);  // elements 0 and 3
    BOOST_TEST(stepped.size(2) == 2);
    BOOST_TEST(stepped(1, 1, 1) == a(1, 1, 3));
    BOOST_CHECK_THROW(a.slice(0, 1, 5).slice(0, 3, 2), index_error);
    BOOST_CHECK_THROW(a.select(2, 4), index_error);
}

BOOST_AUTO_TEST_CASE(transpose_and_permute_are_strides) {
    auto a = Tensor<double>::arange(24).reshape({2, 3, 4});
    auto p = a.permute({2, 0, 1});  // (4, 2, 3)
    BOOST_TEST((p.shape() == Shape{4, 2, 3}));
    BOOST_TEST(!p.is_contiguous());
    for (index_t i = 0; i < 4; ++i)
        for (index_t j = 0; j < 2; ++j)
            for (index_t k = 0; k < 3; ++k) BOOST_TEST(p(i, j, k) == a(j, k, i));
    auto t = a.transpose();  // (2, 4, 3)
    BOOST_TEST(t(1, 3, 2) == a(1, 2, 3));
    auto c = t.contiguous();
    BOOST_TEST(c.is_contiguous());
    BOOST_TEST(c.storage() != t.storage());
    BOOST_TEST(ref::values(c) == ref::values(t), boost::test_tools::per_element());
    BOOST_CHECK_THROW(a.permute({0, 0, 1}), shape_error);
    BOOST_CHECK_THROW(a.permute({0, 1}), shape_error);
}

BOOST_AUTO_TEST_CASE(reshape_views_when_strides_allow_and_copies_otherwise) {
    auto a = Tensor<double>::arange(24).reshape({2, 3, 4});
    auto v = a.reshape({6, -1});
    BOOST_TEST((v.shape() == Shape{6, 4}));
    BOOST_TEST(v.storage() == a.storage());
    // split and merge axes of a sliced (non-contiguous) tensor without copying
    auto s = a.slice(2, 0, 4, 2);                // (2, 3, 2), strides (12, 4, 2)
    auto merged = s.view_as({6, 2});             // axes 0 and 1 merge: 12 == 4 * 3
    BOOST_TEST(merged.storage() == a.storage());
    BOOST_TEST(ref::values(merged) == ref::values(s), boost::test_tools::per_element());
    auto t = a.transpose();                      // (2, 4, 3): last two axes cannot merge
    BOOST_CHECK_THROW(t.view_as({2, 12}), shape_error);
    auto r = t.reshape({2, 12});
    BOOST_TEST(r.storage() != a.storage());
    BOOST_TEST(ref::values(r) == ref::values(t), boost::test_tools::per_element());
    auto u = a.unsqueeze(1).unsqueeze(-1);       // (2, 1, 3, 4, 1)
    BOOST_TEST((u.shape() == Shape{2, 1, 3, 4, 1}));
    BOOST_TEST(u.squeeze(1).squeeze(-1)(1, 2, 3) == a(1, 2, 3));
    BOOST_CHECK_THROW(a.squeeze(0), shape_error);
    BOOST_CHECK_THROW(a.reshape({5, -1}), shape_error);
    BOOST_CHECK_THROW(a.reshape({-1, -1}), shape_error);
    BOOST_TEST(a.flatten()(23) == 23.0);
}

BOOST_AUTO_TEST_CASE(expand_broadcasts_with_zero_strides) {
    auto col = Tensor<float>::arange(3).reshape({3, 1});
    auto e = col.expand({2, 3, 4});
    BOOST_TEST((e.strides() == Strides{0, 1, 0}));
    BOOST_TEST(e(1, 2, 3) == 2.0f);
    BOOST_CHECK_THROW(col.expand({2, 2}), shape_error);
    Tensor<float> copy = e * 1.0f;
    BOOST_TEST(copy(0, 1, 2) == 1.0f);
}

BOOST_AUTO_TEST_CASE(copies_are_handles_and_clone_is_deep) {
    auto a = Tensor<float>::zeros({3});
    Tensor<float> b = a;
    b(0) = 1;
    BOOST_TEST(a(0) == 1.0f);
    Tensor<float> c = a.clone();
    c(1) = 2;
    BOOST_TEST(a(1) == 0.0f);
    a = a * 3.0f;  // rebinds a; b still sees the old memory
    BOOST_TEST(a(0) == 3.0f);
    BOOST_TEST(b(0) == 1.0f);
}

BOOST_AUTO_TEST_CASE(empty_tensors) {
    auto e = Tensor<float>::zeros({0, 4});
    BOOST_TEST(e.numel() == 0);
    Tensor<float> f = e + 1.0f;
    BOOST_TEST(f.numel() == 0);
    BOOST_TEST(sum(e).item() == 0.0f);
    BOOST_CHECK_THROW(Tensor<float>::zeros({-1}), shape_error);
}

BOOST_AUTO_TEST_CASE(memory_statistics_follow_storage) {
    auto before = stats::host_bytes_in_use.load();
    {
        auto t = Tensor<float>::zeros({1000});
        BOOST_TEST(stats::host_bytes_in_use.load() - before >= 4000);
        auto view = t.slice(0, 0, 10);  // views share the storage: no new bytes
        BOOST_TEST(stats::host_bytes_in_use.load() - before < 4100);
        stats::reset_peak();
    }
    BOOST_TEST(stats::host_bytes_in_use.load() == before);
    BOOST_TEST(stats::host_bytes_peak.load() >= before + 4000);
}

BOOST_AUTO_TEST_SUITE_END()
