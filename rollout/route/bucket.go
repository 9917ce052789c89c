package route

// Buckets is the resolution of weights and sticky assignment: a weight is
// a number of buckets out of Buckets (1/100 000, so 0.001 %).
const Buckets = 100_000

// Bucket places key in one of Buckets buckets, a pure function of the
// rollout's salt and the key: the same user lands in the same bucket in
// every process and after every restart, and a new salt reshuffles
// everyone. The hash is FNV-1a over salt, a zero byte and key, finished by
// SplitMix64's mixer so that near keys spread; 2^64 mod Buckets makes the
// bias below 10^-14.
func Bucket(salt, key string) int {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(salt); i++ {
		h = (h ^ uint64(salt[i])) * prime
	}
	h = (h ^ 0) * prime
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	return int(mix(h) % Buckets)
}

// mix is SplitMix64's finaliser.
func mix(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ (z >> 31)
}
