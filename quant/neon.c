/* neon.c - neon kernels (placeholder: none yet; the reference is used). */
#include "kernels.h"

void tc_neon_register(tc_kernel_table *k)
{
    (void)k;
}
