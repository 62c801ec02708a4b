#include "tensorcast.h"
#include <stdio.h>
int main(void)
{
    printf("tensorcast\n");
    return 0;
}
