/* ref_k.c - scalar reference kernels (placeholder: this family is being written). */
#include "kernels.h"

void tc_ref_register_k(tc_kernel_table *k)
{
    (void)k;
}
