-- wrk: each connection pauses before each GET, a random time exponential
-- with a mean of 12 ms, so that requests arrive more as users' do than
-- as a closed loop's, where every answer sends the next request at once.
math.randomseed(os.time())

function delay()
   return math.floor(-math.log(1 - math.random()) * 12)
end
