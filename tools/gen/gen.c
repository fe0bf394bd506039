/* tools/gen/gen: not written yet */
int main(void) { return 0; }
