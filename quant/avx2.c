/* avx2.c - avx2 kernels (placeholder: none yet; the reference is used). */
#include "kernels.h"

void tc_avx2_register(tc_kernel_table *k)
{
    (void)k;
}
