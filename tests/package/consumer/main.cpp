// A program outside the ward tree, built against the installed package.
#include <ward/ward.hpp>

#include <cstdio>

int main() {
    using namespace ward;
    auto x = Tensor<float>::arange(6).reshape({2, 3});
    Tensor<float> y = exp(x) * 0.5f + 1.0f;
    float total = sum(x).item();
    if (total != 15.0f || !(y(1, 2) > 1.0f)) {
        std::printf("consumer: wrong results\n");
        return 1;
    }
    std::printf("consumer: ward works from the installed package (sum = %g)\n", total);
    return 0;
}
