// The test build's entry: the fake shell first, then the real app unchanged.
import './install';
import '../../src/main';
