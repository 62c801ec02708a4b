/* avx512.c - avx512 kernels (placeholder: none yet; the reference is used). */
#include "kernels.h"

void tc_avx512_register(tc_kernel_table *k)
{
    (void)k;
}
